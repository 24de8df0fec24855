package org.nfnet.zoo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Set;

/**
 * Custom variants from JSON, using the keys of DeepMind's {@code nfnet_params} entries.
 *
 * <p>Accepted layouts: the variant keys at top level, or nested under {@code "variant"} with
 * {@code num_classes} either beside it or inside.
 * Required: {@code width}, {@code depth}, {@code train_imsize}, {@code test_imsize},
 * {@code drop_rate}; optional: {@code group_width}, {@code expansion}, {@code big_width} (a list of
 * four or one value for all stages), {@code num_classes}, {@code RA_level}, {@code activation},
 * {@code alpha}, {@code se_ratio}, {@code stochdepth_rate}, {@code final_conv_mult}, {@code name}.
 * Unknown keys are rejected so a typo never silently falls back to a default.
 */
public final class VariantJson {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Set<String> REQUIRED =
      Set.of("width", "depth", "train_imsize", "test_imsize", "drop_rate");
  private static final Set<String> KNOWN = Set.of("width", "depth", "group_width", "expansion",
      "big_width", "train_imsize", "test_imsize", "drop_rate", "num_classes", "RA_level",
      "activation", "alpha", "se_ratio", "stochdepth_rate", "final_conv_mult", "name");

  private VariantJson() {}

  public static NFNetConfig load(Path file) {
    JsonNode root;
    try {
      root = MAPPER.readTree(file.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read variant JSON " + file + ": " + e.getMessage(), e);
    }
    String defaultName = file.getFileName().toString().replaceFirst("(?i)\\.json$", "");
    return parse(root, defaultName, file.toString());
  }

  public static NFNetConfig parse(String json, String name) {
    try {
      return parse(MAPPER.readTree(json), name, "<json>");
    } catch (IOException e) {
      throw new IllegalArgumentException("invalid variant JSON: " + e.getMessage(), e);
    }
  }

  private static NFNetConfig parse(JsonNode root, String defaultName, String source) {
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(source + ": a variant must be a JSON object");
    }
    JsonNode v = root;
    Integer outerClasses = null;
    if (root.has("variant") && root.get("variant").isObject()) {
      v = root.get("variant");
      for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        if (!k.equals("variant") && !k.equals("num_classes")) {
          throw new IllegalArgumentException(source + ": unknown key '" + k + "' beside 'variant'");
        }
      }
      if (root.has("num_classes")) {
        outerClasses = intValue(root, "num_classes", source);
      }
    }
    for (Iterator<String> it = v.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!KNOWN.contains(k)) {
        throw new IllegalArgumentException(source + ": unknown variant key '" + k + "'; known: "
            + String.join(", ", new java.util.TreeSet<>(KNOWN)));
      }
    }
    for (String k : REQUIRED) {
      if (!v.has(k)) {
        throw new IllegalArgumentException(source + ": missing required variant key '" + k + "'");
      }
    }
    String name = v.has("name") ? v.get("name").asText() : defaultName;
    NFNetConfig.Builder b = NFNetConfig.builder(name)
        .width(intList(v, "width", source))
        .depth(intList(v, "depth", source))
        .trainImsize(intValue(v, "train_imsize", source))
        .testImsize(intValue(v, "test_imsize", source))
        .dropRate(doubleValue(v, "drop_rate", source));
    if (v.has("group_width")) {
      b.groupWidth(intList(v, "group_width", source));
    }
    if (v.has("expansion")) {
      b.expansion(doubleList(v, "expansion", source));
    }
    if (v.has("big_width")) {
      b.bigWidth(boolList(v, "big_width", source));
    }
    if (v.has("RA_level")) {
      b.raLevel(v.get("RA_level").asText());
    }
    if (v.has("activation")) {
      b.activation(Activation.parse(v.get("activation").asText()));
    }
    if (v.has("alpha")) {
      b.alpha(doubleValue(v, "alpha", source));
    }
    if (v.has("se_ratio")) {
      b.seRatio(doubleValue(v, "se_ratio", source));
    }
    if (v.has("stochdepth_rate")) {
      b.stochDepthRate(doubleValue(v, "stochdepth_rate", source));
    }
    if (v.has("final_conv_mult")) {
      b.finalConvMult(doubleValue(v, "final_conv_mult", source));
    }
    if (v.has("num_classes")) {
      b.numClasses(intValue(v, "num_classes", source));
    }
    if (outerClasses != null) {
      b.numClasses(outerClasses);
    }
    NFNetConfig config = b.build();
    // A hand-written variant whose group width does not divide the bottleneck is almost always a
    // mistake (DeepMind would silently round the bottleneck down), so custom variants must be exact.
    for (BlockSpec blk : NFNetStructure.blocks(config)) {
      int raw = NFNetConfig.rawBottleneck(blk);
      if (raw % blk.groupWidth() != 0) {
        throw new IllegalArgumentException(source + ": 'group_width'[" + blk.stage() + "] = "
            + blk.groupWidth() + " does not divide the bottleneck width " + raw + " of block "
            + blk.index() + " (width " + config.width()[blk.stage()] + " x expansion "
            + config.expansion()[blk.stage()] + "); DeepMind would round it down to "
            + blk.width());
      }
    }
    return config;
  }

  private static JsonNode stageValues(JsonNode v, String key, String source) {
    JsonNode n = v.get(key);
    if (n.isArray()) {
      if (n.size() != NFNetConfig.STAGES) {
        throw new IllegalArgumentException(source + ": '" + key + "' = " + n + " must have "
            + NFNetConfig.STAGES + " entries (one per stage)");
      }
      return n;
    }
    // One value for every stage.
    var arr = MAPPER.createArrayNode();
    for (int i = 0; i < NFNetConfig.STAGES; i++) {
      arr.add(n);
    }
    return arr;
  }

  private static int[] intList(JsonNode v, String key, String source) {
    JsonNode n = stageValues(v, key, source);
    int[] out = new int[n.size()];
    for (int i = 0; i < out.length; i++) {
      if (!n.get(i).canConvertToInt() || !n.get(i).isIntegralNumber()) {
        throw new IllegalArgumentException(
            source + ": '" + key + "'[" + i + "] = " + n.get(i) + " is not an integer");
      }
      out[i] = n.get(i).intValue();
    }
    return out;
  }

  private static double[] doubleList(JsonNode v, String key, String source) {
    JsonNode n = stageValues(v, key, source);
    double[] out = new double[n.size()];
    for (int i = 0; i < out.length; i++) {
      if (!n.get(i).isNumber()) {
        throw new IllegalArgumentException(
            source + ": '" + key + "'[" + i + "] = " + n.get(i) + " is not a number");
      }
      out[i] = n.get(i).doubleValue();
    }
    return out;
  }

  private static boolean[] boolList(JsonNode v, String key, String source) {
    JsonNode n = stageValues(v, key, source);
    boolean[] out = new boolean[n.size()];
    for (int i = 0; i < out.length; i++) {
      if (!n.get(i).isBoolean()) {
        throw new IllegalArgumentException(
            source + ": '" + key + "'[" + i + "] = " + n.get(i) + " is not true/false");
      }
      out[i] = n.get(i).booleanValue();
    }
    return out;
  }

  private static int intValue(JsonNode v, String key, String source) {
    JsonNode n = v.get(key);
    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
      throw new IllegalArgumentException(source + ": '" + key + "' = " + n + " is not an integer");
    }
    return n.intValue();
  }

  private static double doubleValue(JsonNode v, String key, String source) {
    JsonNode n = v.get(key);
    if (!n.isNumber()) {
      throw new IllegalArgumentException(source + ": '" + key + "' = " + n + " is not a number");
    }
    return n.doubleValue();
  }
}
