package org.nfnet.zoo;

import java.util.Arrays;
import java.util.Objects;

/**
 * Hyper-parameters of one NFNet variant, with the names and defaults of DeepMind's
 * {@code nfnet.py} / {@code base.py}.
 *
 * <p>Named variants come from {@link Variants}; custom ones from {@link VariantJson}. Instances
 * are immutable; the {@code with*} methods return modified copies.
 */
public final class NFNetConfig {
  public static final int STAGES = 4;
  /** Strides of the four stages (the first stage keeps the stem's resolution). */
  static final int[] STAGE_STRIDES = {1, 2, 2, 2};

  private final String name;
  private final int[] width;
  private final int[] depth;
  private final int[] groupWidth;
  private final double[] expansion;
  private final boolean[] bigWidth;
  private final int trainImsize;
  private final int testImsize;
  private final double dropRate;
  private final String raLevel;
  private final double seRatio;
  private final double alpha;
  private final double stochDepthRate;
  private final Activation activation;
  private final double finalConvMult;
  private final int numClasses;

  private NFNetConfig(Builder b) {
    this.name = b.name;
    this.width = b.width.clone();
    this.depth = b.depth.clone();
    this.groupWidth = b.groupWidth.clone();
    this.expansion = b.expansion.clone();
    this.bigWidth = b.bigWidth.clone();
    this.trainImsize = b.trainImsize;
    this.testImsize = b.testImsize;
    this.dropRate = b.dropRate;
    this.raLevel = b.raLevel;
    this.seRatio = b.seRatio;
    this.alpha = b.alpha;
    this.stochDepthRate = b.stochDepthRate;
    this.activation = b.activation;
    this.finalConvMult = b.finalConvMult;
    this.numClasses = b.numClasses;
    validate();
  }

  /** A named variant (F0..F7, F0+..F7+); see {@link Variants#get(String)}. */
  public static NFNetConfig variant(String name) {
    return Variants.get(name);
  }

  /**
   * A named variant, or a JSON variant file when {@code nameOrJsonPath} ends in {@code .json}.
   */
  public static NFNetConfig resolve(String nameOrJsonPath) {
    if (nameOrJsonPath.toLowerCase(java.util.Locale.ROOT).endsWith(".json")) {
      return VariantJson.load(java.nio.file.Path.of(nameOrJsonPath));
    }
    return Variants.get(nameOrJsonPath);
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  public Builder toBuilder() {
    Builder b = new Builder(name);
    b.width = width.clone();
    b.depth = depth.clone();
    b.groupWidth = groupWidth.clone();
    b.expansion = expansion.clone();
    b.bigWidth = bigWidth.clone();
    b.trainImsize = trainImsize;
    b.testImsize = testImsize;
    b.dropRate = dropRate;
    b.raLevel = raLevel;
    b.seRatio = seRatio;
    b.alpha = alpha;
    b.stochDepthRate = stochDepthRate;
    b.activation = activation;
    b.finalConvMult = finalConvMult;
    b.numClasses = numClasses;
    return b;
  }

  public NFNetConfig withNumClasses(int n) {
    return toBuilder().numClasses(n).build();
  }

  private void validate() {
    requireLength("width", width.length);
    requireLength("depth", depth.length);
    requireLength("group_width", groupWidth.length);
    requireLength("expansion", expansion.length);
    requireLength("big_width", bigWidth.length);
    for (int s = 0; s < STAGES; s++) {
      if (width[s] <= 0) {
        throw invalid("width[" + s + "]", width[s], "must be positive");
      }
      if (depth[s] <= 0) {
        throw invalid("depth[" + s + "]", depth[s], "must be positive");
      }
      if (groupWidth[s] <= 0) {
        throw invalid("group_width[" + s + "]", groupWidth[s], "must be positive");
      }
      if (!(expansion[s] > 0)) {
        throw invalid("expansion[" + s + "]", expansion[s], "must be positive");
      }
    }
    if (width[0] < 2) {
      throw invalid("width[0]", width[0], "must be at least 2 (the stem ends at width[0] / 2)");
    }
    // Every block's bottleneck must hold at least one whole group. DeepMind rounds the bottleneck
    // down to a multiple of the group width (F0+ relies on it: 192 -> 128 in stage 0), so a
    // bottleneck smaller than one group would have zero channels.
    for (BlockSpec b : NFNetStructure.blocks(this)) {
      int raw = rawBottleneck(b);
      if (raw < b.groupWidth()) {
        throw invalid("group_width[" + b.stage() + "]", b.groupWidth(),
            "is larger than the bottleneck width " + raw + " of block " + b.index()
                + " (width " + width[b.stage()] + " x expansion " + expansion[b.stage()] + ")");
      }
    }
    if (trainImsize <= 0) {
      throw invalid("train_imsize", trainImsize, "must be positive");
    }
    if (testImsize <= 0) {
      throw invalid("test_imsize", testImsize, "must be positive");
    }
    if (!(dropRate >= 0 && dropRate < 1)) {
      throw invalid("drop_rate", dropRate, "must be in [0, 1)");
    }
    if (!(stochDepthRate >= 0 && stochDepthRate < 1)) {
      throw invalid("stochdepth_rate", stochDepthRate, "must be in [0, 1)");
    }
    if (!(seRatio > 0)) {
      throw invalid("se_ratio", seRatio, "must be positive");
    }
    if (!(finalConvMult > 0)) {
      throw invalid("final_conv_mult", finalConvMult, "must be positive");
    }
    if (numClasses <= 0) {
      throw invalid("num_classes", numClasses, "must be positive");
    }
  }

  /** Bottleneck width before DeepMind rounds it down to a multiple of the group width. */
  static int rawBottleneck(BlockSpec b) {
    return (int) ((b.bigWidth() ? b.outChannels() : b.inChannels()) * b.expansion());
  }

  private void requireLength(String key, int len) {
    if (len != STAGES) {
      throw invalid(key, len + " entries", "must have exactly " + STAGES + " (one per stage)");
    }
  }

  private IllegalArgumentException invalid(String key, Object value, String why) {
    return new IllegalArgumentException(
        "variant '" + name + "': " + key + " = " + value + " " + why);
  }

  public String name() {
    return name;
  }

  public int[] width() {
    return width.clone();
  }

  public int[] depth() {
    return depth.clone();
  }

  public int[] groupWidth() {
    return groupWidth.clone();
  }

  public double[] expansion() {
    return expansion.clone();
  }

  public boolean[] bigWidth() {
    return bigWidth.clone();
  }

  public int trainImsize() {
    return trainImsize;
  }

  public int testImsize() {
    return testImsize;
  }

  public double dropRate() {
    return dropRate;
  }

  /** RandAugment level string, e.g. "405" = 4 layers, magnitude 5 (may be null). */
  public String raLevel() {
    return raLevel;
  }

  public double seRatio() {
    return seRatio;
  }

  public double alpha() {
    return alpha;
  }

  public double stochDepthRate() {
    return stochDepthRate;
  }

  public Activation activation() {
    return activation;
  }

  public double finalConvMult() {
    return finalConvMult;
  }

  public int numClasses() {
    return numClasses;
  }

  public int numBlocks() {
    return Arrays.stream(depth).sum();
  }

  /** Channels of the stem's last convolution (DeepMind: width[0] / 2). */
  public int stemChannels() {
    return width[0] / 2;
  }

  /** Channels of the final 1x1 convolution, i.e. the pooled feature size. */
  public int finalChannels() {
    return (int) (finalConvMult * width[STAGES - 1]);
  }

  @Override
  public String toString() {
    return name + "{width=" + Arrays.toString(width) + ", depth=" + Arrays.toString(depth)
        + ", group_width=" + Arrays.toString(groupWidth) + ", classes=" + numClasses
        + ", train/test=" + trainImsize + "/" + testImsize + "}";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NFNetConfig c && toString().equals(c.toString())
        && Arrays.equals(expansion, c.expansion) && Arrays.equals(bigWidth, c.bigWidth)
        && dropRate == c.dropRate && alpha == c.alpha && seRatio == c.seRatio
        && stochDepthRate == c.stochDepthRate && activation == c.activation
        && finalConvMult == c.finalConvMult && Objects.equals(raLevel, c.raLevel);
  }

  @Override
  public int hashCode() {
    return toString().hashCode();
  }

  /** Mutable builder; defaults are DeepMind's (SE 0.5, alpha 0.2, GELU, 1000 classes). */
  public static final class Builder {
    private final String name;
    private int[] width = {256, 512, 1536, 1536};
    private int[] depth = {1, 2, 6, 3};
    private int[] groupWidth = {128, 128, 128, 128};
    private double[] expansion = {0.5, 0.5, 0.5, 0.5};
    private boolean[] bigWidth = {true, true, true, true};
    private int trainImsize = 192;
    private int testImsize = 256;
    private double dropRate = 0.2;
    private String raLevel = "405";
    private double seRatio = 0.5;
    private double alpha = 0.2;
    private double stochDepthRate = 0.25;
    private Activation activation = Activation.GELU;
    private double finalConvMult = 2.0;
    private int numClasses = 1000;

    private Builder(String name) {
      this.name = Objects.requireNonNull(name, "name");
    }

    public Builder width(int... v) { this.width = v.clone(); return this; }
    public Builder depth(int... v) { this.depth = v.clone(); return this; }
    public Builder groupWidth(int... v) { this.groupWidth = v.clone(); return this; }
    public Builder expansion(double... v) { this.expansion = v.clone(); return this; }
    public Builder bigWidth(boolean... v) { this.bigWidth = v.clone(); return this; }
    public Builder trainImsize(int v) { this.trainImsize = v; return this; }
    public Builder testImsize(int v) { this.testImsize = v; return this; }
    public Builder dropRate(double v) { this.dropRate = v; return this; }
    public Builder raLevel(String v) { this.raLevel = v; return this; }
    public Builder seRatio(double v) { this.seRatio = v; return this; }
    public Builder alpha(double v) { this.alpha = v; return this; }
    public Builder stochDepthRate(double v) { this.stochDepthRate = v; return this; }
    public Builder activation(Activation v) { this.activation = v; return this; }
    public Builder finalConvMult(double v) { this.finalConvMult = v; return this; }
    public Builder numClasses(int v) { this.numClasses = v; return this; }

    public NFNetConfig build() {
      return new NFNetConfig(this);
    }
  }
}
