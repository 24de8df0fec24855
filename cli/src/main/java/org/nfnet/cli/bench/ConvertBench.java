package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.nfnet.cli.Main;
import org.nfnet.converters.ConversionInput;
import org.nfnet.converters.ReadOptions;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.ParameterSpec;

/**
 * Converter throughput and memory: reading a file in DeepMind's release layout (parse, copy every array into
 * direct memory, NaN/Inf scan) in MB/s from the page cache; the whole {@code nfnet convert} (time
 * and peak RSS); and the SavedModel load time of the result.
 *
 * <p>Memory is measured the way a user sees it: each conversion runs in a fresh JVM with this
 * JVM's flags (the launcher's), and reports its own peak RSS (VmHWM). The baseline is the same
 * command on DeepMind's tiny T0 fixture (1.2 MB of weights), i.e. JVM + TensorFlow runtime + a
 * small graph; the figure that matters is how far the F0-size conversion rises above it, as a
 * multiple of the file size. (This section's own RSS before converting is only the bare JVM,
 * reported as {@code jvm_only_rss_mb}.)
 */
final class ConvertBench {
  /** Line a measuring child prints: exit code, seconds, peak RSS bytes. */
  private static final String CHILD_RESULT = "@@convert-result ";

  private ConvertBench() {}

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    NFNetConfig c = s.config();
    Path file = s.weights() != null ? s.weights() : generated(s, c);
    long bytes = Files.size(file);
    ObjectNode r = BenchSections.JSON.createObjectNode();
    r.put("file", file.toString());
    r.put("file_mb", bytes / 1e6);
    r.put("jvm_only_rss_mb", Memory.rssBytes() / 1e6);

    Path shared = Path.of(System.getProperty("nfnet.shared.dir", "../shared"));
    Path t0 = shared.resolve("fixtures/nfnet_t0");
    Child base = null;
    Path t0File = t0.resolve("t0_seed5_release.pkl");
    if (Files.isRegularFile(t0File)) {
      base = convertInFreshJvm(List.of("--weights", t0File.toString(),
          "--variant", Path.of("variants", "t0.json").toAbsolutePath().toString(),
          "--out", s.workDir().resolve("T0-converted").toString(), "--force", "--no-verify"));
      r.put("jvm_tf_baseline_rss_mb", base.peakRss() / 1e6);
      r.put("baseline", "nfnet convert of the T0 fixture (" + t0File + ")");
    }

    Path out = s.workDir().resolve(c.name().replace("+", "plus") + "-converted");
    Child conv = convertInFreshJvm(List.of("--weights", file.toString(), "--out", out.toString(),
        "--force", "--no-verify"));
    r.put("convert_seconds", conv.seconds());
    r.put("convert_peak_rss_mb", conv.peakRss() / 1e6);
    double above = base == null ? Double.NaN : (conv.peakRss() - base.peakRss()) / (double) bytes;
    if (base != null) {
      r.put("convert_rss_above_baseline_x_file", above);
    }

    double[] t = new double[s.repeats()];
    for (int i = 0; i < s.warmup() + s.repeats(); i++) {
      long a = System.nanoTime();
      readAll(file, c);
      if (i >= s.warmup()) {
        t[i - s.warmup()] = (System.nanoTime() - a) / 1e9;
      }
    }
    Stats read = Stats.of(t);
    r.set("read_seconds", BenchSections.stats(read, "s per full read"));
    r.put("read_mb_per_s", bytes / 1e6 / read.median());

    double[] load = new double[Math.max(1, s.repeats() / 2)];
    for (int i = 0; i < load.length; i++) {
      long a = System.nanoTime();
      try (NFNetModel m = NFNetModel.load(out)) {
        load[i] = (System.nanoTime() - a) / 1e9;
      }
    }
    Stats ls = Stats.of(load);
    r.set("savedmodel_load_seconds", BenchSections.stats(ls, "s"));
    r.put("summary", String.format(Locale.ROOT,
        "read %s (%.0f MB): %.0f MB/s (parse + copy to direct memory + NaN/Inf scan, page cache, +-%.0f%%)%n"
            + "convert to SavedModel (fresh JVM): %.1f s, peak RSS %.0f MB%n"
            + "JVM+TF baseline (fresh JVM converting the tiny T0 fixture): %s, "
            + "so the conversion peaks %s the file above baseline%nSavedModel load: %.2f s (median of %d)",
        file.getFileName(), bytes / 1e6, bytes / 1e6 / read.median(), read.spreadPercent(),
        conv.seconds(), conv.peakRss() / 1e6,
        base == null ? "n/a (no " + t0 + ")" : String.format(Locale.ROOT, "peak RSS %.0f MB", base.peakRss() / 1e6),
        base == null ? "n/a x" : String.format(Locale.ROOT, "%.2fx", above), ls.median(), ls.n()));
    return r;
  }

  private record Child(double seconds, long peakRss) {}

  /**
   * Runs {@code nfnet convert ARGS} in a fresh JVM with this JVM's flags and class path; its
   * output is passed through, its own peak RSS and the command's time come back.
   */
  private static Child convertInFreshJvm(List<String> args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(ConvertBench.class.getName());
    cmd.addAll(args);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String result = null;
    try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
      for (String line; (line = in.readLine()) != null; ) {
        if (line.startsWith(CHILD_RESULT)) {
          result = line.substring(CHILD_RESULT.length());
        } else if (!line.startsWith("I0000") && !line.startsWith("WARNING: All log messages")) {
          System.out.println(line);
        }
      }
    }
    int exit = p.waitFor();
    String[] f = result == null ? new String[0] : result.trim().split(" ");
    if (exit != 0 || f.length != 3 || !f[0].equals("0")) {
      throw new IllegalStateException("convert " + String.join(" ", args) + " failed (exit " + exit + ")");
    }
    return new Child(Double.parseDouble(f[1]), Long.parseLong(f[2]));
  }

  /** Child entry point: {@code nfnet convert ARGS}, then its time and this process's peak RSS. */
  public static void main(String[] args) {
    List<String> a = new ArrayList<>();
    a.add("convert");
    a.addAll(List.of(args));
    long t0 = System.nanoTime();
    int code = Main.run(a.toArray(new String[0]));
    double seconds = (System.nanoTime() - t0) / 1e9;
    System.out.println(CHILD_RESULT + code + " " + seconds + " " + Memory.peakRssBytes());
    System.exit(code);
  }

  private static void readAll(Path file, NFNetConfig c) {
    try (ConversionInput in = ConversionInput.open(file, c, ReadOptions.defaults().withoutChecksum(), false)) {
      List<ParameterSpec> specs = in.parameters();
      long largest = specs.stream().mapToLong(ParameterSpec::size).max().orElse(1);
      ByteBuffer dst = ByteBuffer.allocateDirect((int) largest * 4).order(ByteOrder.nativeOrder());
      for (ParameterSpec spec : specs) {
        dst.clear();
        in.copyFloat32(spec, dst);
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * A file of the variant's size in the byte layout of DeepMind's release files (dill 0.3.x /
   * numpy {@literal <=} 1.18), written once by the shared reference tool.
   */
  private static Path generated(BenchSections.Settings s, NFNetConfig c) throws Exception {
    Path file = s.workDir().resolve(c.name().replace("+", "plus") + "_release_pattern.pkl");
    if (Files.isRegularFile(file)) {
      return file;
    }
    Path shared = Path.of(System.getProperty("nfnet.shared.dir", "../shared"));
    Path tool = shared.resolve("tools/haiku_pickle.py");
    Path structures = shared.resolve("reference/structures.json");
    if (!Files.isRegularFile(tool)) {
      throw new IllegalArgumentException("no --weights given and " + tool + " not found to generate one");
    }
    System.out.printf("generating %s with %s (takes a few minutes)%n", file, tool);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Process p = new ProcessBuilder("python3", tool.toString(), "--structure", structures.toString(),
        "--variant", c.name(), "--layout", "release", "--out", tmp.toString()).inheritIO().start();
    if (p.waitFor() != 0) {
      throw new IllegalStateException("haiku_pickle.py failed");
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return file;
  }
}
