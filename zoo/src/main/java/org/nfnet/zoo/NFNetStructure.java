package org.nfnet.zoo;

import java.util.ArrayList;
import java.util.List;

/**
 * Everything about an NFNet that follows from its config alone: the block layout, the exact list
 * of parameters (Haiku names and shapes), the parameter count, and multiply-accumulate counts.
 *
 * <p>No TensorFlow graph is built here, so these numbers are cheap even for F7.
 */
public final class NFNetStructure {
  /** Output channels of the four stem convolutions; the last is replaced by width[0] / 2. */
  private static final int[] STEM_CHANNELS = {16, 32, 64, -1};
  private static final int[] STEM_STRIDES = {2, 1, 1, 2};
  /** Downsampling factor of the whole network (stem 4, stages 2 x 2 x 2). */
  public static final int TOTAL_STRIDE = 32;

  private NFNetStructure() {}

  public static final String STEM_PREFIX = "stem_conv";

  /** Haiku module of stem convolution {@code i} (0..3). */
  public static String stemModule(int i) {
    return ParameterNames.module(ParameterNames.ROOT, STEM_PREFIX + i);
  }

  public static int stemChannels(NFNetConfig c, int i) {
    return i == STEM_CHANNELS.length - 1 ? c.stemChannels() : STEM_CHANNELS[i];
  }

  public static int stemStride(int i) {
    return STEM_STRIDES[i];
  }

  public static int stemConvCount() {
    return STEM_CHANNELS.length;
  }

  /** The blocks, with beta and stochastic-depth rates computed as in DeepMind's constructor. */
  public static List<BlockSpec> blocks(NFNetConfig c) {
    List<BlockSpec> blocks = new ArrayList<>();
    int[] width = c.width();
    int[] depth = c.depth();
    int[] groupWidth = c.groupWidth();
    double[] expansion = c.expansion();
    boolean[] bigWidth = c.bigWidth();
    int numBlocks = c.numBlocks();
    int ch = c.stemChannels();
    double expectedStd = 1.0;
    int index = 0;
    for (int stage = 0; stage < NFNetConfig.STAGES; stage++) {
      for (int i = 0; i < depth[stage]; i++) {
        // beta = 1 / expected std of the block's input. At a transition block (i == 0) that is
        // the std accumulated over the previous stage; it restarts from 1 afterwards because the
        // transition block's shortcut is a fresh projection.
        double beta = 1.0 / expectedStd;
        double sdRate = c.stochDepthRate() * index / numBlocks;
        int outCh = width[stage];
        int raw = (int) ((bigWidth[stage] ? outCh : ch) * expansion[stage]);
        int groups = raw / groupWidth[stage];
        int bottleneck = groups * groupWidth[stage];
        int seHidden = Math.max(1, (int) (outCh * c.seRatio()));
        blocks.add(new BlockSpec(index, stage, ch, outCh, bottleneck, groupWidth[stage],
            expansion[stage], bigWidth[stage], i == 0 ? NFNetConfig.STAGE_STRIDES[stage] : 1,
            beta, sdRate, seHidden));
        ch = outCh;
        index++;
        if (i == 0) {
          expectedStd = 1.0;
        }
        expectedStd = Math.sqrt(expectedStd * expectedStd + c.alpha() * c.alpha());
      }
    }
    return blocks;
  }

  /** Every parameter, in forward order, with its Haiku module, name and shape. */
  public static List<ParameterSpec> parameters(NFNetConfig c) {
    List<ParameterSpec> p = new ArrayList<>();
    int ch = 3;
    for (int i = 0; i < stemConvCount(); i++) {
      int out = stemChannels(c, i);
      addConv(p, stemModule(i), 3, ch, out);
      ch = out;
    }
    for (BlockSpec b : blocks(c)) {
      String m = b.module();
      // Forward order: the shortcut projection is computed before the residual branch.
      if (b.useProjection()) {
        addConv(p, ParameterNames.module(m, "conv_shortcut"), 1, b.inChannels(), b.outChannels());
      }
      addConv(p, ParameterNames.module(m, "conv0"), 1, b.inChannels(), b.width());
      addConv(p, ParameterNames.module(m, "conv1"), 3, b.groupWidth(), b.width());
      addConv(p, ParameterNames.module(m, "conv1b"), 3, b.groupWidth(), b.width());
      addConv(p, ParameterNames.module(m, "conv2"), 1, b.width(), b.outChannels());
      String se = ParameterNames.module(m, "squeeze_excite");
      addLinear(p, ParameterNames.module(se, "linear"), b.outChannels(), b.seHidden());
      addLinear(p, ParameterNames.module(se, "linear_1"), b.seHidden(), b.outChannels());
      p.add(new ParameterSpec(m, "skip_gain", new long[0]));
      ch = b.outChannels();
    }
    addConv(p, finalConvModule(), 1, ch, c.finalChannels());
    addLinear(p, classifierModule(), c.finalChannels(), c.numClasses());
    return p;
  }

  /**
   * The constant factor on each WSConv2D's input (the preceding activation's gamma, times the
   * block's beta for {@code conv0} and {@code conv_shortcut}; 1 for the first stem conv and the
   * final conv), by Haiku module. The graph folds it into the conv's kernel rather than
   * multiplying the feature map, and folded exports bake it into the stored {@code w_hat}: this
   * table is the one place these factors are defined.
   */
  public static java.util.Map<String, Float> kernelInputScales(NFNetConfig c) {
    java.util.Map<String, Float> m = new java.util.LinkedHashMap<>();
    double gamma = c.activation().gamma();
    for (int i = 0; i < stemConvCount(); i++) {
      m.put(stemModule(i), i == 0 ? 1.0f : (float) gamma);
    }
    for (BlockSpec b : blocks(c)) {
      float pre = (float) (gamma * b.beta());
      if (b.useProjection()) {
        m.put(ParameterNames.module(b.module(), "conv_shortcut"), pre);
      }
      m.put(ParameterNames.module(b.module(), "conv0"), pre);
      for (String conv : new String[] {"conv1", "conv1b", "conv2"}) {
        m.put(ParameterNames.module(b.module(), conv), (float) gamma);
      }
    }
    m.put(finalConvModule(), 1.0f);
    return m;
  }

  public static String finalConvModule() {
    return ParameterNames.module(ParameterNames.ROOT, "final_conv");
  }

  /** The classifier: Haiku's {@code hk.Linear} directly under NFNet is named {@code linear}. */
  public static String classifierModule() {
    return ParameterNames.module(ParameterNames.ROOT, "linear");
  }

  private static void addConv(List<ParameterSpec> p, String module, int k, int inPerGroup, int out) {
    p.add(new ParameterSpec(module, "w", new long[] {k, k, inPerGroup, out}));
    p.add(new ParameterSpec(module, "gain", new long[] {out}));
    p.add(new ParameterSpec(module, "bias", new long[] {out}));
  }

  private static void addLinear(List<ParameterSpec> p, String module, int in, int out) {
    p.add(new ParameterSpec(module, "w", new long[] {in, out}));
    p.add(new ParameterSpec(module, "b", new long[] {out}));
  }

  public static long parameterCount(NFNetConfig c) {
    return parameters(c).stream().mapToLong(ParameterSpec::size).sum();
  }

  /**
   * Multiply-accumulates for one image of {@code h x w}, by DeepMind's {@code count_flops} rule:
   * every convolution costs out_ch * (h * w / stride^2) * (in_ch / groups) * k^2 with fractional
   * resolutions kept as they are; the SE MLPs and the classifier count their weight products. The
   * paper reports this number as "FLOPs".
   */
  public static double macs(NFNetConfig c, double h, double w) {
    double total = 0;
    double ch = 3;
    for (int i = 0; i < stemConvCount(); i++) {
      int out = stemChannels(c, i);
      total += convMacs(ch, out, 3, stemStride(i), 1, h, w);
      if (stemStride(i) > 1) {
        h /= stemStride(i);
        w /= stemStride(i);
      }
      ch = out;
    }
    for (BlockSpec b : blocks(c)) {
      total += blockMacs(b, h, w);
      if (b.stride() > 1) {
        h /= b.stride();
        w /= b.stride();
      }
    }
    total += convMacs(c.width()[NFNetConfig.STAGES - 1], c.finalChannels(), 1, 1, 1, h, w);
    total += (double) c.finalChannels() * c.numClasses();
    return total;
  }

  static double blockMacs(BlockSpec b, double h, double w) {
    double expand = convMacs(b.inChannels(), b.width(), 1, 1, 1, h, w);
    // DeepMind counts the strided 3x3 at the input resolution with the stride in the divisor.
    double grouped = convMacs(b.width(), b.width(), 3, b.stride(), b.groups(), h, w);
    if (b.stride() > 1) {
      h /= b.stride();
      w /= b.stride();
    }
    grouped += convMacs(b.width(), b.width(), 3, 1, b.groups(), h, w);
    double shortcut = b.useProjection() ? convMacs(b.inChannels(), b.outChannels(), 1, 1, 1, h, w) : 0;
    double se = (double) b.seHidden() * b.outChannels() * 2;
    double contract = convMacs(b.width(), b.outChannels(), 1, 1, 1, h, w);
    return expand + grouped + se + contract + shortcut;
  }

  private static double convMacs(double in, int out, int k, int stride, int groups, double h, double w) {
    return out * (h * w) / ((double) stride * stride) * (in / groups) * k * k;
  }

  /** Spatial size after SAME-padded stride-s downsampling (ceil division). */
  public static int downsample(int size, int stride) {
    return (size + stride - 1) / stride;
  }

  /** Per-stage output shapes [h, w, channels] for an input of {@code h x w}: stem, stage 0..3, head. */
  public static List<int[]> stageShapes(NFNetConfig c, int h, int w) {
    List<int[]> shapes = new ArrayList<>();
    h = downsample(downsample(h, 2), 2);
    w = downsample(downsample(w, 2), 2);
    shapes.add(new int[] {h, w, c.stemChannels()});
    for (int s = 0; s < NFNetConfig.STAGES; s++) {
      h = downsample(h, NFNetConfig.STAGE_STRIDES[s]);
      w = downsample(w, NFNetConfig.STAGE_STRIDES[s]);
      shapes.add(new int[] {h, w, c.width()[s]});
    }
    shapes.add(new int[] {h, w, c.finalChannels()});
    return shapes;
  }

  /**
   * Fails before any graph runs when an input is too small for the network: with SAME padding
   * every stride-2 layer needs at least one input pixel, and below the total stride the last
   * stages would see a 1x1 map built mostly from padding. We require h, w >= 32.
   */
  public static void checkInputSize(NFNetConfig c, long h, long w) {
    if (h < TOTAL_STRIDE || w < TOTAL_STRIDE) {
      throw new IllegalArgumentException("input " + h + "x" + w + " is too small for " + c.name()
          + ": the network downsamples by " + TOTAL_STRIDE + ", so height and width must be >= "
          + TOTAL_STRIDE);
    }
  }
}
