package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.cli.Main;
import org.nfnet.cli.bench.NativeAllocator;
import org.nfnet.testing.SharedFixtures;

/**
 * The allocator the {@code nfnet} launcher runs every command on when tcmalloc is installed
 * (tcmalloc preloaded, oneDNN's buffers from it), in real child JVMs, since both are fixed at
 * process start: inference still gives DeepMind's T0 logits, the process says which allocator it
 * runs on, and a training run completes. Skipped where {@code libtcmalloc-minimal4} is missing
 * ({@code .ci/install-deps} installs it).
 */
class TcmallocProcessTest {
  private static final List<String> LIBRARY_DIRS = List.of("/usr/lib/x86_64-linux-gnu",
      "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu",
      "/usr/lib64", "/lib64");

  @TempDir Path tmp;

  @Test
  void inferenceOnTcmallocGivesDeepMindsLogits() throws Exception {
    Path model = T0ReleaseExport.convert(tmp.resolve("t0"));
    Path out = tmp.resolve("logits.f32");
    String log = run(List.of(AllocatorChild.class.getName(), model.toString(), out.toString(),
        T0ReleaseExport.INPUT));
    assertTrue(log.contains("allocator: tcmalloc; oneDNN's buffers from it ("
        + NativeAllocator.SYSTEM_ALLOCATOR + "=1)"), log);
    double err = T0ReleaseExport.deepMindError(SharedFixtures.floats(out));
    assertTrue(err <= T0ParityTest.TOLERANCE, "off DeepMind's logits by " + err);
  }

  @Test
  void aTrainingRunOnTcmallocCompletes() throws Exception {
    Path run = tmp.resolve("run");
    String log = run(List.of(Main.class.getName(), "train", "--variant",
        SharedFixtures.t0VariantFile().toString(), "--out", run.toString(), "--steps", "3"));
    assertTrue(log.contains("completed at step 3"), log);
    Path last = run.resolve(String.format("checkpoints/ckpt-%010d", 3));
    assertTrue(Files.isDirectory(last), "no checkpoint " + last + " in:\n" + log);
  }

  /** Runs a child JVM as the launcher runs a command; returns its output. */
  private static String run(List<String> mainAndArgs) throws IOException, InterruptedException {
    Optional<Path> lib = LIBRARY_DIRS.stream()
        .map(d -> Path.of(d, "libtcmalloc_minimal.so.4")).filter(Files::isReadable).findFirst();
    assumeTrue(lib.isPresent(), "libtcmalloc_minimal.so.4 is not installed");
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin",
        "java").toString(), "-Xmx1g", "-cp", System.getProperty("java.class.path")));
    cmd.addAll(mainAndArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("LD_PRELOAD", lib.get().toString());
    pb.environment().put(NativeAllocator.SYSTEM_ALLOCATOR, "1");
    pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
    Process p = pb.start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), log);
    return log;
  }
}
