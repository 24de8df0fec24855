package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Locale;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;

/** The benchmark sections; each runs in a fresh JVM and returns its figures as JSON. */
public final class BenchSections {
  public static final String RESULT_PREFIX = "@@bench-result ";
  static final ObjectMapper JSON = new ObjectMapper();

  /** Options shared by all sections. */
  public record Settings(String variant, int repeats, int warmup, int threads, Path workDir,
      Path weights, java.util.List<Path> models, java.util.List<String> torchForms,
      java.util.List<Integer> batches, java.util.List<String> phases) {
    NFNetConfig config() {
      return NFNetConfig.resolve(variant);
    }
  }

  private BenchSections() {}

  public static ObjectNode run(String section, Settings s) throws Exception {
    ObjectNode r = switch (section) {
      case "peak" -> PeakBench.run(s);
      case "infer" -> InferenceBench.run(s);
      case "train" -> TrainingBench.run(s);
      case "convert" -> ConvertBench.run(s);
      case "train-profile" -> TrainProfile.run(s);
      case "compare" -> ModelComparison.run(s);
      case "infer-profile" -> InferProfile.run(s);
      case "pytorch" -> PyTorchBaseline.run(s);
      case "train-memory" -> TrainMemory.run(s);
      case "serve" -> ServeBench.run(s);
      default -> throw new IllegalArgumentException("unknown bench section '" + section
          + "'; valid: peak, infer, train, convert, train-profile, infer-profile, compare, pytorch, "
          + "train-memory, serve");
    };
    r.put("peak_rss_mb", Memory.lifetimePeakBytes() / 1e6);
    return r;
  }

  static ObjectNode stats(Stats st, String unit) {
    ObjectNode n = JSON.createObjectNode();
    n.put("median", st.median());
    n.put("min", st.min());
    n.put("max", st.max());
    n.put("n", st.n());
    n.put("unit", unit);
    return n;
  }

  /** GFLOP (2 x MACs) for one image at {@code res}, by DeepMind's count. */
  static double gflopPerImage(NFNetConfig c, int res) {
    return 2 * NFNetStructure.macs(c, res, res) / 1e9;
  }

  /** Human-readable summary of one section, with ratios against earlier sections of the run. */
  public static void print(String section, JsonNode r, JsonNode all) {
    System.out.println(r.path("summary").asText(r.toString()));
    System.out.printf(Locale.ROOT, "   peak RSS of this section: %.0f MB%n", r.path("peak_rss_mb").asDouble());
    JsonNode peak = all.path("peak");
    if (!section.equals("peak") && peak.has("fp32_gflops") && r.has("fp32_gflops_achieved")) {
      System.out.printf(Locale.ROOT, "   fraction of measured fp32 matmul peak: %.0f%%%n",
          100 * r.get("fp32_gflops_achieved").asDouble() / peak.get("fp32_gflops").asDouble());
    }
    if (!section.equals("peak") && peak.has("bf16_gflops") && r.has("bf16_gflops_achieved")) {
      System.out.printf(Locale.ROOT, "   fraction of measured bf16 matmul peak: %.0f%%%n",
          100 * r.get("bf16_gflops_achieved").asDouble() / peak.get("bf16_gflops").asDouble());
    }
    // The pytorch section's inference figures, each against the peak of its precision.
    if (peak.has("fp32_gflops") && peak.has("bf16_gflops")) {
      r.fieldNames().forEachRemaining(k -> {
        if (k.startsWith("infer_") && k.endsWith("_gflops_achieved")) {
          String p = k.contains("bf16") ? "bf16" : "fp32";
          System.out.printf(Locale.ROOT, "   %s: %.0f GFLOP/s = %.0f%% of the %s matmul peak%n",
              k.substring(0, k.length() - "_gflops_achieved".length()), r.get(k).asDouble(),
              100 * r.get(k).asDouble() / peak.get(p + "_gflops").asDouble(), p);
        }
      });
    }
  }
}
