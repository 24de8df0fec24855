package org.nfnet.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Which native allocator this process runs on, said in the bench's output so that every recorded
 * figure names it: the {@code nfnet} launcher preloads tcmalloc when it is installed, and memory
 * (and some speed) figures depend on it, for PyTorch too.
 *
 * <p>The malloc is read from the libraries actually mapped into the process ({@code
 * /proc/self/maps}), not from {@code LD_PRELOAD}, which the loader may have ignored. Where oneDNN's
 * buffers come from is TensorFlow's {@code TF_ONEDNN_USE_SYSTEM_ALLOCATOR} (read once per process,
 * {@code 1}/{@code true} in any case turns it on).
 */
public final class NativeAllocator {
  /** TensorFlow's switch: oneDNN's buffers from malloc instead of TF's own pool. */
  public static final String SYSTEM_ALLOCATOR = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR";

  private NativeAllocator() {}

  /** This process's allocator, e.g. {@code tcmalloc; oneDNN's buffers from it (...=1)}. */
  public static String describe() {
    List<String> maps;
    try {
      maps = Files.readAllLines(Path.of("/proc/self/maps"));
    } catch (IOException e) {
      maps = List.of();
    }
    return describe(maps, System.getenv());
  }

  /** {@link #describe()} from the lines of a {@code /proc/PID/maps} and an environment. */
  static String describe(List<String> maps, Map<String, String> env) {
    String malloc = maps.stream().anyMatch(l -> l.contains("/libtcmalloc")) ? "tcmalloc"
        : maps.stream().anyMatch(l -> l.contains("/libjemalloc")) ? "jemalloc" : "glibc malloc";
    String v = env.get(SYSTEM_ALLOCATOR);
    boolean system = v != null && (v.equals("1") || v.toLowerCase(Locale.ROOT).equals("true"));
    return malloc + (system
        ? "; oneDNN's buffers from it (" + SYSTEM_ALLOCATOR + "=" + v + ")"
        : "; oneDNN's buffers from TensorFlow's own pool");
  }
}
