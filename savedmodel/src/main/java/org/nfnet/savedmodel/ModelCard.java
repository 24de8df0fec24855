package org.nfnet.savedmodel;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.Precision;
import org.nfnet.zoo.preprocess.EvalPreprocessing;

/** {@code model_card.json} (machine-readable; read back by {@link NFNetModel}) and {@code model_card.md}. */
public final class ModelCard {
  public static final String JSON = "model_card.json";
  public static final String MARKDOWN = "model_card.md";
  private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private ModelCard() {}

  static Map<String, Object> fields(NFNetConfig c, EvalPreprocessing p, boolean folded,
      Precision precision, int topK, long params, long storedValues, Map<String, Object> extras) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format", "nfnet-savedmodel/1");
    m.put("variant", c.name());
    Map<String, Object> arch = new LinkedHashMap<>();
    arch.put("width", c.width());
    arch.put("depth", c.depth());
    arch.put("group_width", c.groupWidth());
    arch.put("expansion", c.expansion());
    arch.put("big_width", c.bigWidth());
    arch.put("train_imsize", c.trainImsize());
    arch.put("test_imsize", c.testImsize());
    arch.put("se_ratio", c.seRatio());
    arch.put("alpha", c.alpha());
    arch.put("activation", c.activation().toString());
    arch.put("final_conv_mult", c.finalConvMult());
    m.put("architecture", arch);
    m.put("num_classes", c.numClasses());
    m.put("feature_dim", c.finalChannels());
    m.put("parameters", params);
    m.put("stored_values", storedValues);
    m.put("test_imsize", c.testImsize());
    m.put("top_k", topK);
    m.put("folded_weight_standardization", folded);
    Map<String, Object> pre = new LinkedHashMap<>();
    pre.put("name", p.name());
    pre.put("crop_padding", p.cropPadding());
    pre.put("resize", "ResizeBicubic to " + p.resizeSize() + "x" + p.resizeSize()
        + " (half_pixel_centers=true, align_corners=false, aspect squashed, no clamping)");
    pre.put("crop", p.testImsize() + "x" + p.testImsize() + " at offset " + p.cropOffset());
    pre.put("mean_rgb", EvalPreprocessing.MEAN_RGB);
    pre.put("stddev_rgb", EvalPreprocessing.STDDEV_RGB);
    pre.put("decode", "DecodeImage(channels=3, expand_animations=false): JPEG/PNG/GIF/BMP");
    m.put("preprocessing", pre);
    m.put("signatures", Arrays.asList(NFNetExporter.SERVING_DEFAULT, NFNetExporter.ENCODED,
        NFNetExporter.LOGITS_FROM_NORMALIZED, NFNetExporter.FEATURES));
    m.put("conv_precision", precision.label());
    m.put("numerics", precision == Precision.BFLOAT16
        ? "bfloat16 convolutions" + (folded ? " on pre-standardized kernels" : "")
            + ", float32 elsewhere; logits within ~1% of float32's range (Bf16AgreementTest)"
        : folded
        ? "float32; WSConv2D kernels stored pre-standardized (w_hat = standardize(w) * gain), "
            + "plain conv2d + bias at serving time; agrees with the unfolded graph to ~1e-6 relative"
        : "float32; weight standardization computed in graph from w and gain on every call");
    m.put("exported_at", Instant.now().toString());
    m.putAll(extras);
    return m;
  }

  static void write(Path dir, NFNetConfig c, EvalPreprocessing p, boolean folded,
      Precision precision, int topK, long params, long storedValues, Map<String, Object> extras)
      throws IOException {
    Map<String, Object> m = fields(c, p, folded, precision, topK, params, storedValues, extras);
    MAPPER.writeValue(dir.resolve(JSON).toFile(), m);
    StringBuilder md = new StringBuilder();
    md.append("# NFNet ").append(c.name()).append(" (SavedModel)\n\n");
    md.append("| field | value |\n|---|---|\n");
    rows(md, "", m);
    md.append("\nServe: `./nfnet serve --model <dir>` (or a base directory holding numbered versions,"
        + " `<base>/1`, `<base>/2`), or TF Serving (tag `serve`, signatures above).\n");
    Files.writeString(dir.resolve(MARKDOWN), md.toString());
  }

  /**
   * One table row per scalar; nested maps become dotted keys (architecture.width) and lists a
   * comma-separated cell, so that no cell holds JSON and the Markdown table stays a table.
   */
  static void rows(StringBuilder md, String prefix, Map<?, ?> m) {
    for (Map.Entry<?, ?> e : m.entrySet()) {
      String key = prefix + e.getKey();
      Object v = e.getValue();
      if (v instanceof Map<?, ?> sub) {
        rows(md, key + ".", sub);
        continue;
      }
      String s;
      if (v instanceof Iterable<?> it) {
        StringBuilder sb = new StringBuilder();
        for (Object o : it) {
          sb.append(sb.length() > 0 ? ", " : "").append(o);
        }
        s = sb.toString();
      } else if (v != null && v.getClass().isArray()) {
        s = arrayText(v);
      } else {
        s = String.valueOf(v);
      }
      md.append("| ").append(cell(key)).append(" | ").append(cell(s)).append(" |\n");
    }
  }

  private static String arrayText(Object array) {
    StringBuilder sb = new StringBuilder();
    int n = java.lang.reflect.Array.getLength(array);
    for (int i = 0; i < n; i++) {
      sb.append(i > 0 ? ", " : "").append(java.lang.reflect.Array.get(array, i));
    }
    return sb.toString();
  }

  private static String cell(String s) {
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ");
  }

  /** Reads {@code model_card.json} of an export. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> read(Path dir) throws IOException {
    Path f = dir.resolve(JSON);
    if (!Files.isRegularFile(f)) {
      throw new IOException("missing " + f + " (not an export of this tool?)");
    }
    try {
      return MAPPER.readValue(f.toFile(), Map.class);
    } catch (com.fasterxml.jackson.core.JacksonException e) {
      throw new IOException("corrupt " + f + ": " + e.getOriginalMessage(), e);
    }
  }
}
