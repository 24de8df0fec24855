package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.training.OneDnnWeightCache;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.Precision;
import org.tensorflow.Result;
import org.tensorflow.SessionFunction;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/**
 * Inference images/s through exported SavedModels ({@code logits_from_normalized}, folded WS
 * kernels) at the variant's test size, batch 1 and 8, float32 and bf16 convolutions, weights as
 * the default export's variables (what {@code NFNetModel.load} runs by default), the same export
 * frozen into constants at load ({@code --freeze}) and a frozen export ({@code --frozen}); plus
 * how far bf16 logits are from float32 ones on the same batch.
 */
final class InferenceBench {
  static final int[] BATCHES = {1, 8};

  /** Where the weights of a timed model live. */
  enum Weights { VARIABLES, FROZEN_AT_LOAD, FROZEN_EXPORT }

  /** One exported model flavour and how it is loaded. */
  record Mode(Precision precision, Weights weights) {
    /** {@code fp32} (the default load), {@code fp32_frozen_at_load}, {@code fp32_frozen}. */
    String key() {
      return InferenceBench.key(precision) + switch (weights) {
        case VARIABLES -> "";
        case FROZEN_AT_LOAD -> "_frozen_at_load";
        case FROZEN_EXPORT -> "_frozen";
      };
    }

    boolean frozenExport() {
      return weights == Weights.FROZEN_EXPORT;
    }

    /** Loads this flavour's export (made on first use) with the bench's thread settings. */
    NFNetModel load(BenchSections.Settings s, NFNetConfig c) throws Exception {
      return NFNetModel.load(exported(s, c, this), NFNetModel.Options.defaults()
          .withConfig(SessionConfigs.threads(s.threads())).withFreeze(weights == Weights.FROZEN_AT_LOAD));
    }
  }

  /** The default load and the frozen export, per precision (the forms compared with PyTorch). */
  static final Mode[] DEFAULT_AND_FROZEN = {new Mode(Precision.FLOAT32, Weights.VARIABLES),
      new Mode(Precision.BFLOAT16, Weights.VARIABLES),
      new Mode(Precision.FLOAT32, Weights.FROZEN_EXPORT),
      new Mode(Precision.BFLOAT16, Weights.FROZEN_EXPORT)};

  static final Mode[] MODES = {DEFAULT_AND_FROZEN[0], DEFAULT_AND_FROZEN[1],
      new Mode(Precision.FLOAT32, Weights.FROZEN_AT_LOAD),
      new Mode(Precision.BFLOAT16, Weights.FROZEN_AT_LOAD),
      DEFAULT_AND_FROZEN[2], DEFAULT_AND_FROZEN[3]};

  private InferenceBench() {}

  /** Records (and says, as a summary line) whether oneDNN's weight cache is on in this JVM. */
  static String weightCache(ObjectNode r) {
    boolean on = OneDnnWeightCache.on(System.getenv());
    r.put("onednn_weight_cache", on);
    return on ? "oneDNN weight cache on (" + OneDnnWeightCache.VARIABLE + "="
        + System.getenv(OneDnnWeightCache.VARIABLE)
        + ", as `nfnet logits`, `predict` and `serve` run)\n"
        : "oneDNN weight cache off (" + OneDnnWeightCache.VARIABLE + " unset or 0)\n";
  }

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    NFNetConfig c = s.config();
    int res = c.testImsize();
    ObjectNode r = BenchSections.JSON.createObjectNode();
    StringBuilder summary = new StringBuilder(weightCache(r));
    float[][] logits32 = null;
    float[][] logits16 = null;
    double gflop = BenchSections.gflopPerImage(c, res);
    // All flavours are loaded together and timed round-robin (one call of each per round): on a
    // shared 2-core VM throughput drifts by tens of percent over a minute, and interleaving puts
    // that drift into every flavour's spread instead of into the ratios between them.
    List<NFNetModel> models = new ArrayList<>();
    List<TFloat32> inputs = new ArrayList<>();
    try {
      List<SessionFunction> fns = new ArrayList<>();
      for (Mode mode : MODES) {
        exported(s, c, mode);
        long t0 = System.nanoTime();
        NFNetModel m = mode.load(s, c);
        models.add(m);
        r.put(mode.key() + "_load_seconds", (System.nanoTime() - t0) / 1e9);
        fns.add(m.function(NFNetExporter.LOGITS_FROM_NORMALIZED));
      }
      for (int n : BATCHES) {
        inputs.add(input(n, res));
      }
      double[][][] t = new double[MODES.length][BATCHES.length][s.repeats()];
      for (int i = 0; i < s.warmup() + s.repeats(); i++) {
        for (int mi = 0; mi < MODES.length; mi++) {
          for (int bi = 0; bi < BATCHES.length; bi++) {
            long a = System.nanoTime();
            try (Result out = fns.get(mi).call(Map.of("normalized", inputs.get(bi)))) {
              if (BATCHES[bi] == 8 && i == 0 && MODES[mi].weights() == Weights.VARIABLES) {
                float[][] l = matrix((TFloat32) out.get("logits").orElseThrow());
                if (MODES[mi].precision() == Precision.FLOAT32) {
                  logits32 = l;
                } else {
                  logits16 = l;
                }
              }
            }
            if (i >= s.warmup()) {
              t[mi][bi][i - s.warmup()] = (System.nanoTime() - a) / 1e9;
            }
          }
        }
      }
      for (int mi = 0; mi < MODES.length; mi++) {
        Mode mode = MODES[mi];
        for (int bi = 0; bi < BATCHES.length; bi++) {
          int n = BATCHES[bi];
          Stats st = Stats.of(t[mi][bi]);
          double ips = n / st.median();
          String k = mode.key() + "_b" + n;
          r.set(k + "_seconds", BenchSections.stats(st, "s per batch"));
          r.put(k + "_images_per_s", ips);
          if (n == 8) {
            r.put(mode.key() + "_gflops_achieved", ips * gflop);
          }
          summary.append(String.format(Locale.ROOT,
              "%s %s @%dpx batch %d: %.2f img/s (%.3f s/batch, +-%.0f%%, %d runs)%n",
              c.name(), mode.key(), res, n, ips, st.median(), st.spreadPercent(), st.n()));
        }
      }
    } finally {
      inputs.forEach(TFloat32::close);
      models.forEach(NFNetModel::close);
    }
    double maxAbs = 0;
    double maxLogit = 0;
    int agree = 0;
    for (int i = 0; i < logits32.length; i++) {
      for (int j = 0; j < logits32[i].length; j++) {
        maxAbs = Math.max(maxAbs, Math.abs(logits32[i][j] - logits16[i][j]));
        maxLogit = Math.max(maxLogit, Math.abs(logits32[i][j]));
      }
      agree += argmax(logits32[i]) == argmax(logits16[i]) ? 1 : 0;
    }
    r.put("bf16_max_abs_logit_deviation", maxAbs);
    r.put("bf16_deviation_of_max_logit", maxAbs / maxLogit);
    r.put("bf16_top1_agreement", agree + "/" + logits32.length);
    for (int n : BATCHES) {
      double ratio = r.get("bf16_b" + n + "_images_per_s").asDouble() / r.get("fp32_b" + n + "_images_per_s").asDouble();
      r.put("bf16_over_fp32_b" + n, ratio);
      summary.append(String.format(Locale.ROOT, "bf16 / fp32 at batch %d: %.2fx%n", n, ratio));
      for (Precision p : Precision.values()) {
        ratio(r, summary, key(p), n, "_frozen_at_load_over_variables", "_frozen_at_load", "",
            "frozen at load / variables");
        ratio(r, summary, key(p), n, "_frozen_export_over_frozen_at_load", "_frozen",
            "_frozen_at_load", "frozen export / frozen at load");
        ratio(r, summary, key(p), n, "_frozen_over_variables", "_frozen", "",
            "frozen export / variables");
      }
    }
    summary.append(String.format(Locale.ROOT,
        "bf16 vs fp32 logits (random-weight %s, batch 8): max |diff| %.3g = %.2g of max |logit|, top-1 agree %s",
        c.name(), maxAbs, maxAbs / maxLogit, agree + "/" + logits32.length));
    r.put("summary", summary.toString());
    return r;
  }

  private static void ratio(ObjectNode r, StringBuilder summary, String precision, int n,
      String name, String over, String under, String label) {
    double v = r.get(precision + over + "_b" + n + "_images_per_s").asDouble()
        / r.get(precision + under + "_b" + n + "_images_per_s").asDouble();
    r.put(precision + name + "_b" + n, v);
    summary.append(String.format(Locale.ROOT, "%s %s at batch %d: %.2fx%n", precision, label, n, v));
  }

  static String key(Precision p) {
    return p == Precision.FLOAT32 ? "fp32" : "bf16";
  }

  /**
   * The export for this variant and mode, made once (random weights) and reused until the graph
   * code changes: an export older than the zoo or savedmodel jar is redone, so a benchmark never
   * times a graph the current code would not build.
   */
  static Path exported(BenchSections.Settings s, NFNetConfig c, Mode mode) throws Exception {
    Path dir = s.workDir().resolve(c.name().replace("+", "plus") + "-" + key(mode.precision())
        + "-folded" + (mode.frozenExport() ? "-frozen" : ""));
    Path pb = dir.resolve("saved_model.pb");
    if (!Files.isRegularFile(pb) || olderThanCode(pb)) {
      System.out.printf("exporting random-weight %s (%s) to %s%n", c.name(), mode.key(), dir);
      new NFNetExporter(c).parameters(RandomWeights.values(42)).precision(mode.precision())
          .fold(true).frozen(mode.frozenExport()).force(true).export(dir);
    }
    return dir;
  }

  private static boolean olderThanCode(Path file) throws java.io.IOException {
    long t = Files.getLastModifiedTime(file).toMillis();
    for (Class<?> k : new Class<?>[] {org.nfnet.zoo.graph.NFNet.class, NFNetExporter.class}) {
      java.security.CodeSource src = k.getProtectionDomain().getCodeSource();
      if (src == null) {
        continue;
      }
      try {
        Path code = Path.of(src.getLocation().toURI());
        if (Files.isRegularFile(code) && Files.getLastModifiedTime(code).toMillis() > t) {
          return true;
        }
      } catch (java.net.URISyntaxException e) {
        // Not a file location: nothing to compare against.
      }
    }
    return false;
  }

  static TFloat32 input(int n, int res) {
    SplittableRandom r = new SplittableRandom(7);
    float[] v = new float[n * res * res * 3];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return TFloat32.tensorOf(Shape.of(n, res, res, 3), org.tensorflow.ndarray.buffer.DataBuffers.of(v, true, false));
  }

  static float[][] matrix(TFloat32 t) {
    int rows = (int) t.shape().get(0);
    int cols = (int) t.shape().get(1);
    float[][] m = new float[rows][cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        m[i][j] = t.getFloat(i, j);
      }
    }
    return m;
  }

  static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }
}
