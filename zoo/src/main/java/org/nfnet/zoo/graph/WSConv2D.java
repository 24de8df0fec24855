package org.nfnet.zoo.graph;

import java.util.List;
import org.nfnet.zoo.Activation;
import org.nfnet.zoo.NFNetStructure;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.nn.FusedBatchNorm;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * 2-D convolution with Scaled Weight Standardization and an affine gain, plus a bias (paper
 * Sec. 2; DeepMind's {@code base.WSConv2D}).
 *
 * <p>The kernel is standardised per output channel over (H, W, I):
 * {@code w_hat = (w - mean) * gain * rsqrt(max(var * fan_in, 1e-4))}, computed in DeepMind's
 * fused order {@code w * scale - mean * scale}. Padding is SAME; grouped convolutions use TF's
 * native group support (input channels = groups x kernel in-channels).
 */
public final class WSConv2D {
  /** Floor on var * fan_in; a wrong epsilon moves logits by ~5e-4 of their range. */
  public static final float EPS = 1e-4f;
  /** Parameter name of a folded kernel ({@link #standardize} output) for folding sources. */
  public static final String FOLDED_KERNEL = "w_hat";

  private WSConv2D() {}

  /**
   * The convolution of {@code x * s}, {@code s} this conv's constant input scale
   * ({@link NFNetStructure#kernelInputScales}: the preceding activation's gamma, and beta), folded
   * into the kernel since conv(s x, K) = conv(x, s K): a multiply on the [O] gain in the graph, or
   * already part of a pre-folded {@code w_hat}.
   *
   * @param module Haiku module path of this conv (parameters {@code w}, {@code gain}, {@code bias})
   * @param inChannelsPerGroup input channels per group (the kernel's I dimension)
   */
  static Operand<TFloat32> apply(BuildContext ctx, String module, Operand<TFloat32> x,
      int kernel, int inChannelsPerGroup, int outChannels, int stride) {
    return build(ctx, module, x, kernel, inChannelsPerGroup, outChannels, stride, false);
  }

  /**
   * {@code act(conv(x))} without the activation's gamma ({@link Activations#unscaled}). A GELU
   * after a 1x1 convolution in a graph that is not differentiated is built in the op pattern TF's
   * remapper fuses into the matrix product ({@link Activations#geluTanhFusible}); in bf16 it then
   * stays in bf16 for the next convolution, with no cast pair in between.
   */
  static Operand<TFloat32> applyActivated(BuildContext ctx, String module, Operand<TFloat32> x,
      int kernel, int inChannelsPerGroup, int outChannels, int stride, Activation act) {
    if (act == Activation.GELU && !ctx.options.differentiated()
        && isPointwise(x, kernel, inChannelsPerGroup, stride)) {
      return build(ctx, module, x, kernel, inChannelsPerGroup, outChannels, stride, true);
    }
    Ops tf = ctx.scope(module);
    return Activations.unscaled(tf, act,
        build(ctx, module, x, kernel, inChannelsPerGroup, outChannels, stride, false),
        ctx.options.differentiated());
  }

  private static Operand<TFloat32> build(BuildContext ctx, String module, Operand<TFloat32> x,
      int kernel, int inChannelsPerGroup, int outChannels, int stride, boolean fusedGelu) {
    long[] wShape = {kernel, kernel, inChannelsPerGroup, outChannels};
    Ops tf = ctx.scope(module);
    Operand<TFloat32> kernelHat;
    Float inputScale = ctx.kernelInputScales().get(module);
    if (inputScale == null) {
      throw new IllegalStateException("WSConv2D " + module + " is not in NFNetStructure of "
          + ctx.config.name());
    }
    // Training graphs with fused standardization recompute kernels (and GELUs) when the
    // gradient reaches them instead of holding them through the step (LeanWSConv2D).
    boolean lean = ctx.options.differentiated() && ctx.options.fusedStandardization()
        && !ctx.foldedKernels() && LeanWSConv2D.enabled();
    Operand<TFloat32> w = null;
    Operand<TFloat32> scale = null;
    FusedBatchNorm<TFloat32, TFloat32> standardization = null;
    if (ctx.foldedKernels()) {
      // w_hat = standardize(w, gain * input scale), computed at export (FoldedKernels).
      kernelHat = ctx.param(module, FOLDED_KERNEL, wShape, ParameterInit.CONV_FAN_IN);
    } else {
      w = ctx.param(module, "w", wShape, ParameterInit.CONV_FAN_IN);
      Operand<TFloat32> gain = ctx.param(module, "gain", new long[] {outChannels}, ParameterInit.ONES);
      long fanIn = (long) kernel * kernel * inChannelsPerGroup;
      if (ctx.options.fusedStandardization()) {
        scale = FusedWeightStandardization.scale(tf, gain, inputScale, fanIn);
        standardization = FusedWeightStandardization.batchNorm(tf, w, scale, fanIn);
        kernelHat = FusedWeightStandardization.kernel(tf, standardization, w);
      } else {
        if (inputScale != 1.0f) {
          gain = tf.math.mul(gain, tf.constant(inputScale));
        }
        kernelHat = standardize(tf, w, gain, fanIn);
      }
    }
    Operand<TFloat32> bias = ctx.param(module, "bias", new long[] {outChannels}, ParameterInit.ZEROS);
    boolean pointwise = isPointwise(x, kernel, inChannelsPerGroup, stride);
    // In bf16 the convolution's two operands, cast once: a lean backward pass reads these casts.
    boolean bf16 = ctx.precision == Precision.BFLOAT16;
    Operand<TBfloat16> xBf16 = bf16 ? ctx.bf16(tf, x) : null;
    Operand<TBfloat16> kernelBf16 = bf16 ? ctx.bf16(tf, kernelHat) : null;
    Operand<TFloat32> y;
    if (bf16) {
      y = pointwise
          ? pointwiseBf16(ctx, tf, x, xBf16, kernelBf16, bias, inChannelsPerGroup, outChannels,
              fusedGelu)
          : spatialBf16(ctx, tf, xBf16, kernelBf16, bias, stride);
    } else {
      y = pointwise
          ? pointwise(tf, x, kernelHat, bias, inChannelsPerGroup, outChannels, fusedGelu)
          : tf.nn.biasAdd(tf.nn.conv2d(x, kernelHat, strides(stride), "SAME"), bias);
    }
    if (!lean) {
      return y;
    }
    return LeanWSConv2D.wrap(tf, new LeanWSConv2D.Forward(y, x, w, scale, standardization, bias,
        xBf16, kernelBf16), stride, pointwise);
  }

  private static List<Long> strides(int stride) {
    return List.of(1L, (long) stride, (long) stride, 1L);
  }

  /** Conv + bias in bf16 so oneDNN fuses them; the result is bf16-accurate either way. */
  private static Operand<TFloat32> spatialBf16(BuildContext ctx, Ops tf, Operand<TBfloat16> x,
      Operand<TBfloat16> kernelHat, Operand<TFloat32> bias, int stride) {
    Operand<TBfloat16> y = tf.nn.biasAdd(tf.nn.conv2d(x, kernelHat, strides(stride), "SAME"),
        ctx.bf16(tf, bias));
    return tf.dtypes.cast(y, TFloat32.class);
  }

  /** Ungrouped 1x1 stride 1 (the input's static channel count is the kernel's): a matrix product. */
  private static boolean isPointwise(Operand<TFloat32> x, int kernel, int inChannelsPerGroup,
      int stride) {
    return kernel == 1 && stride == 1 && x.shape().numDimensions() == 4
        && x.shape().get(3) == inChannelsPerGroup;
  }

  /**
   * A 1x1, stride-1 convolution as the matrix product it is: [N*H*W, I] x [I, O] (both reshapes
   * are free in NHWC/HWIO). Why not Conv2D: on CPU, oneDNN's filter gradient of a 1x1 convolution
   * runs well below the throughput of the same product as a MatMul (BENCHMARKS.md, "Where the time
   * goes"); 1x1 layers are 4 of the 5 convolutions of every block. Same values up to float32
   * summation order. With {@code fusedGelu}, the GELU is applied to the [N*H*W, O] product in
   * the remapper's pattern, in the product's precision.
   */
  private static Operand<TFloat32> pointwise(Ops tf, Operand<TFloat32> x,
      Operand<TFloat32> kernelHat, Operand<TFloat32> bias, int in, int out, boolean fusedGelu) {
    Operand<TFloat32> y = tf.nn.biasAdd(tf.linalg.matMul(tf.reshape(x, rows(tf, in)),
        tf.reshape(kernelHat, tf.constant(new int[] {in, out}))), bias);
    if (fusedGelu) {
      y = Activations.geluTanhFusible(tf, y, TFloat32.class);
    }
    return tf.reshape(y, outShape(tf, x, out));
  }

  /** {@link #pointwise} in bf16, from the bf16 casts of {@code x} and of the kernel. */
  private static Operand<TFloat32> pointwiseBf16(BuildContext ctx, Ops tf, Operand<TFloat32> x,
      Operand<TBfloat16> xBf16, Operand<TBfloat16> kernelHat, Operand<TFloat32> bias, int in,
      int out, boolean fusedGelu) {
    Operand<TBfloat16> y = tf.nn.biasAdd(tf.linalg.matMul(tf.reshape(xBf16, rows(tf, in)),
        tf.reshape(kernelHat, tf.constant(new int[] {in, out}))), ctx.bf16(tf, bias));
    if (fusedGelu) {
      y = Activations.geluTanhFusible(tf, y, TBfloat16.class);
    }
    Operand<TBfloat16> y4 = tf.reshape(y, outShape(tf, x, out));
    Operand<TFloat32> result = tf.dtypes.cast(y4, TFloat32.class);
    // A following bf16 convolution reads y4 itself instead of casting the result back.
    ctx.rememberBf16(result, y4);
    return result;
  }

  private static Operand<TInt32> rows(Ops tf, int in) {
    return tf.constant(new int[] {-1, in});
  }

  /** {@code x}'s shape with {@code out} channels. */
  private static Operand<TInt32> outShape(Ops tf, Operand<TFloat32> x, int out) {
    return tf.concat(List.of(
        tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {3})),
        tf.constant(new int[] {out})), tf.constant(0));
  }

  /**
   * The standardised, gain-scaled kernel. Depends on parameters only, which is why a serving
   * export can fold it into a constant kernel.
   */
  public static Operand<TFloat32> standardize(Ops tf, Operand<TFloat32> w, Operand<TFloat32> gain,
      long fanIn) {
    Operand<org.tensorflow.types.TInt32> axes = tf.constant(new int[] {0, 1, 2});
    var keep = org.tensorflow.op.math.Mean.keepDims(true);
    Operand<TFloat32> mean = tf.math.mean(w, axes, keep);
    // Population variance (ddof 0), as jnp.var.
    Operand<TFloat32> var = tf.math.mean(tf.math.squaredDifference(w, mean), axes, keep);
    Operand<TFloat32> scale = tf.math.mul(
        tf.math.rsqrt(tf.math.maximum(tf.math.mul(var, tf.constant((float) fanIn)), tf.constant(EPS))),
        gain);
    Operand<TFloat32> shift = tf.math.mul(mean, scale);
    return tf.math.sub(tf.math.mul(w, scale), shift);
  }
}
