package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.nfnet.cli.Main;
import org.nfnet.converters.ConversionInput;
import org.nfnet.converters.ReadOptions;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.ParameterSpec;

/**
 * Converter throughput: reading a release-format file (parse, copy every array into direct
 * memory, NaN/Inf scan) in MB/s from the page cache; the whole {@code nfnet convert} (time and
 * peak RSS); and the SavedModel load time of the result.
 */
final class ConvertBench {
  private ConvertBench() {}

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    NFNetConfig c = s.config();
    Path file = s.weights() != null ? s.weights() : generated(s, c);
    long bytes = Files.size(file);
    ObjectNode r = BenchSections.JSON.createObjectNode();
    r.put("file", file.toString());
    r.put("file_mb", bytes / 1e6);
    long rssBefore = Memory.rssBytes();

    Path out = s.workDir().resolve(c.name().replace("+", "plus") + "-converted");
    long t0 = System.nanoTime();
    int code = Main.run("convert", "--weights", file.toString(), "--out", out.toString(), "--force",
        "--no-verify");
    double convertSeconds = (System.nanoTime() - t0) / 1e9;
    if (code != 0) {
      throw new IllegalStateException("convert failed with exit code " + code);
    }
    long peakAfterConvert = Memory.peakRssBytes();
    r.put("convert_seconds", convertSeconds);
    r.put("convert_peak_rss_mb", peakAfterConvert / 1e6);
    r.put("jvm_tf_baseline_rss_mb", rssBefore / 1e6);

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
            + "convert to SavedModel: %.1f s, peak RSS %.0f MB (JVM+TF baseline before it: %.0f MB, "
            + "so %.2fx the file above baseline)%nSavedModel load: %.2f s (median of %d)",
        file.getFileName(), bytes / 1e6, bytes / 1e6 / read.median(), read.spreadPercent(),
        convertSeconds, peakAfterConvert / 1e6, rssBefore / 1e6,
        (peakAfterConvert - rssBefore) / (double) bytes, ls.median(), ls.n()));
    return r;
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

  /** An F0-size file in the release format, written once by the shared reference tool. */
  private static Path generated(BenchSections.Settings s, NFNetConfig c) throws Exception {
    Path file = s.workDir().resolve(c.name().replace("+", "plus") + "_pattern.pkl");
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
        "--variant", c.name(), "--out", tmp.toString()).inheritIO().start();
    if (p.waitFor() != 0) {
      throw new IllegalStateException("haiku_pickle.py failed");
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return file;
  }
}
