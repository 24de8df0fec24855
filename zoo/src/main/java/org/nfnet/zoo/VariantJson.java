package org.nfnet.zoo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.IntStream;

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
  /**
   * Sane bounds for hand-written variants, checked before anything is sized from them: generous
   * around the released family (F7+: depths up to 48, widths up to 2048, 4.5e8 parameters,
   * 416 px) so that a typo such as {@code depth [1000000, 1, 1, 1]} is refused with the field's
   * name instead of exhausting memory while the structure is built.
   */
  static final int MAX_DEPTH = 256;
  static final int MAX_WIDTH = 16384;
  static final int MAX_IMSIZE = 4096;
  static final int MAX_CLASSES = 1_000_000;
  static final long MAX_PARAMETERS = 4_000_000_000L;

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
    int[] width = intList(v, "width", source);
    int[] depth = intList(v, "depth", source);
    for (int i = 0; i < NFNetConfig.STAGES; i++) {
      bound(source, "width", i, width[i], 1, MAX_WIDTH);
      bound(source, "depth", i, depth[i], 1, MAX_DEPTH);
    }
    NFNetConfig.Builder b = NFNetConfig.builder(name).width(width).depth(depth)
        .trainImsize(bound(source, "train_imsize", -1, intValue(v, "train_imsize", source), 1, MAX_IMSIZE))
        .testImsize(bound(source, "test_imsize", -1, intValue(v, "test_imsize", source), 1, MAX_IMSIZE))
        .dropRate(fraction(source, "drop_rate", doubleValue(v, "drop_rate", source)));
    if (v.has("group_width")) {
      int[] gw = intList(v, "group_width", source);
      for (int i = 0; i < NFNetConfig.STAGES; i++) {
        bound(source, "group_width", i, gw[i], 1, MAX_WIDTH);
      }
      b.groupWidth(gw);
    }
    if (v.has("expansion")) {
      double[] ex = doubleList(v, "expansion", source);
      for (int i = 0; i < NFNetConfig.STAGES; i++) {
        if (!(ex[i] > 0 && ex[i] <= 16)) {
          throw new IllegalArgumentException(source + ": 'expansion'[" + i + "] = " + ex[i]
              + " is out of range (0, 16]");
        }
      }
      b.expansion(ex);
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
      double a = doubleValue(v, "alpha", source);
      if (!(a > 0 && a <= 10)) {
        throw new IllegalArgumentException(source + ": 'alpha' = " + a + " is out of range (0, 10]");
      }
      b.alpha(a);
    }
    if (v.has("se_ratio")) {
      double r = doubleValue(v, "se_ratio", source);
      if (!(r > 0 && r <= 1)) {
        throw new IllegalArgumentException(source + ": 'se_ratio' = " + r + " is out of range (0, 1]");
      }
      b.seRatio(r);
    }
    if (v.has("stochdepth_rate")) {
      b.stochDepthRate(fraction(source, "stochdepth_rate", doubleValue(v, "stochdepth_rate", source)));
    }
    if (v.has("final_conv_mult")) {
      double f = doubleValue(v, "final_conv_mult", source);
      if (!(f > 0 && f <= 16)) {
        throw new IllegalArgumentException(source + ": 'final_conv_mult' = " + f
            + " is out of range (0, 16]");
      }
      b.finalConvMult(f);
    }
    if (v.has("num_classes")) {
      b.numClasses(bound(source, "num_classes", -1, intValue(v, "num_classes", source), 1, MAX_CLASSES));
    }
    if (outerClasses != null) {
      b.numClasses(bound(source, "num_classes", -1, outerClasses, 1, MAX_CLASSES));
    }
    NFNetConfig config = b.build();
    long params = NFNetStructure.parameterCount(config);
    if (params > MAX_PARAMETERS) {
      throw new IllegalArgumentException(source + ": 'width'/'depth' " + java.util.Arrays.toString(width)
          + "/" + java.util.Arrays.toString(depth) + " give " + params + " parameters, over the limit of "
          + MAX_PARAMETERS);
    }
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

  private static int bound(String source, String key, int index, int value, int min, int max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(source + ": '" + key + "'" + (index >= 0 ? "[" + index + "]" : "")
          + " = " + value + " is out of range [" + min + ", " + max + "]");
    }
    return value;
  }

  private static double fraction(String source, String key, double value) {
    if (!(value >= 0 && value < 1)) {
      throw new IllegalArgumentException(source + ": '" + key + "' = " + value
          + " is out of range [0, 1)");
    }
    return value;
  }

  /**
   * The per-stage values of {@code key} (a list of {@link NFNetConfig#STAGES} entries, or one value
   * for every stage), each checked with {@code ok}; {@code what} names the expected kind.
   */
  private static JsonNode stageValues(JsonNode v, String key, String source,
      Predicate<JsonNode> ok, String what) {
    JsonNode n = v.get(key);
    if (n.isArray() && n.size() != NFNetConfig.STAGES) {
      throw new IllegalArgumentException(source + ": '" + key + "' = " + n + " must have "
          + NFNetConfig.STAGES + " entries (one per stage)");
    }
    var arr = MAPPER.createArrayNode();
    for (int i = 0; i < NFNetConfig.STAGES; i++) {
      JsonNode e = n.isArray() ? n.get(i) : n;
      if (!ok.test(e)) {
        throw new IllegalArgumentException(
            source + ": '" + key + "'[" + i + "] = " + e + " is not " + what);
      }
      arr.add(e);
    }
    return arr;
  }

  private static int[] intList(JsonNode v, String key, String source) {
    JsonNode n = stageValues(v, key, source, e -> e.canConvertToInt() && e.isIntegralNumber(),
        "an integer");
    return IntStream.range(0, n.size()).map(i -> n.get(i).intValue()).toArray();
  }

  private static double[] doubleList(JsonNode v, String key, String source) {
    JsonNode n = stageValues(v, key, source, JsonNode::isNumber, "a number");
    return IntStream.range(0, n.size()).mapToDouble(i -> n.get(i).doubleValue()).toArray();
  }

  private static boolean[] boolList(JsonNode v, String key, String source) {
    JsonNode n = stageValues(v, key, source, JsonNode::isBoolean, "true/false");
    boolean[] out = new boolean[n.size()];
    for (int i = 0; i < out.length; i++) {
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
