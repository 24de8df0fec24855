package org.nfnet.zoo.graph;

import java.util.List;
import java.util.regex.Pattern;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.nn.FusedBatchNorm;
import org.tensorflow.op.nn.FusedBatchNormGrad;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The backward pass of a {@link WSConv2D} in a training graph that holds no standardized kernel
 * and, when the convolution's input is a GELU, not the GELU's output either: both are computed
 * again, from the raw kernel and from the GELU's input, when the gradient reaches the convolution.
 *
 * <p>Why: TF's gradient of a convolution reads its kernel (for the input's gradient) and its input
 * (for the kernel's), so autodiff keeps every standardized kernel next to its raw variable, and
 * every GELU output next to the GELU input its own gradient needs, from the forward pass to the
 * backward pass. In an F0 training step at batch 8 those were 0.19 GB and 0.28 GB of the 0.89 GB
 * of step tensors live at the peak (BENCHMARKS.md, "Lean convolution backward"). Recomputing them
 * costs one {@code FusedBatchNormV3} per convolution and a few element-wise passes per GELU.
 *
 * <p>How: the forward convolution is built as usual, behind a {@code StopGradient}, and paired in
 * an {@code IdentityN} with what its gradient needs: the input (or the GELU's input), the raw
 * kernel, the standardization scale and the bias; the op's attributes carry the stride, the
 * kernel shape, the precision, whether the product is pointwise and whether a GELU is recomputed.
 * Its gradient ({@link #gradient}, dispatched from {@link RecomputedGelu}'s registration for
 * {@code IdentityN}) waits for the incoming gradient, recomputes, and writes out the convolution's,
 * the standardization's ({@code FusedBatchNormGradV3}) and the GELU's backward passes with the ops
 * TF's own gradients use. Only graphs with fused standardization use it (CPU without XLA; XLA plans
 * its own buffers).
 */
public final class LeanWSConv2D {
  /** System property that, set to {@code false}, gives convolutions TF's own gradients. */
  public static final String PROPERTY = "nfnet.leanBackward";
  /** Name of the {@code IdentityN} ops whose gradient is this class's. */
  static final String OP_NAME = "lean_conv";
  private static final Pattern OURS = Pattern.compile("(.*/)?" + OP_NAME + "(_\\d+)?");
  private static final String STRIDE = "_nfnet_stride";
  private static final String BF16 = "_nfnet_bf16";
  private static final String POINTWISE = "_nfnet_pointwise";
  private static final String GELU = "_nfnet_gelu";
  /** The kernel's HWIO shape: a gradient function cannot ask the graph (it holds its lock). */
  private static final String KERNEL = "_nfnet_kernel";

  private LeanWSConv2D() {}

  /**
   * {@code y} (the forward convolution of {@code x} with the kernel standardized from {@code w}
   * and {@code scale}, plus {@code bias}) with the lean backward pass. When {@code x} is a
   * {@link RecomputedGelu} output, the backward pass keeps the GELU's input instead of {@code x}.
   */
  static Operand<TFloat32> wrap(Ops tf, Operand<TFloat32> y, Operand<TFloat32> x,
      Operand<TFloat32> w, Operand<TFloat32> scale, Operand<TFloat32> bias, int stride,
      boolean bf16, boolean pointwise) {
    Operand<TFloat32> geluInput = RecomputedGelu.input(x);
    Operand<TFloat32> kept = geluInput != null ? geluInput : x;
    Output<?>[] inputs = {tf.stopGradient(y).asOutput(), kept.asOutput(), w.asOutput(),
        scale.asOutput(), bias.asOutput()};
    GraphOperation op = (GraphOperation) tf.scope().opBuilder("IdentityN", OP_NAME)
        .addInputList(inputs).setAttr(STRIDE, (long) stride).setAttr(BF16, bf16)
        .setAttr(POINTWISE, pointwise).setAttr(GELU, geluInput != null)
        .setAttr(KERNEL, w.shape().asArray()).build();
    @SuppressWarnings("unchecked")
    Operand<TFloat32> out = (Operand<TFloat32>) (Object) op.output(0);
    return out;
  }

  /**
   * Whether training graphs use it: {@link RecomputedGelu}'s gradient is registered and
   * {@value #PROPERTY} is not {@code false}.
   */
  static boolean enabled() {
    return !"false".equalsIgnoreCase(System.getProperty(PROPERTY)) && RecomputedGelu.available();
  }

  static boolean isOurs(GraphOperation op) {
    return op.numInputs() == 5 && OURS.matcher(op.name()).matches();
  }

  @SuppressWarnings("unchecked")
  static List<Operand<?>> gradient(Ops tf, GraphOperation op, List<Output<?>> dys) {
    Operand<TFloat32> dy = (Operand<TFloat32>) dys.get(0);
    // Everything below reads forward tensors only, so without these edges TF's executor would
    // recompute the GELU and the kernel during the forward pass and hold them: the point is to
    // compute them when the gradient arrives.
    boolean gelu = op.attributes().getAttrBool(GELU);
    Operand<TFloat32> a = (Operand<TFloat32>) op.input(1);
    if (gelu) {
      a = afterGradient(tf, a, dy);
    }
    Operand<TFloat32> w = afterGradient(tf, (Operand<TFloat32>) op.input(2), dy);
    Operand<TFloat32> scale = (Operand<TFloat32>) op.input(3);
    long stride = op.attributes().getAttrInt(STRIDE);
    boolean bf16 = op.attributes().getAttrBool(BF16);
    boolean pointwise = op.attributes().getAttrBool(POINTWISE);

    long[] k = op.attributes().getAttrIntList(KERNEL);
    long fanIn = k[0] * k[1] * k[2];
    FusedBatchNorm<TFloat32, TFloat32> bn = FusedWeightStandardization.batchNorm(tf, w, scale,
        fanIn);
    Operand<TInt32> kShape = tf.constant(new int[] {(int) k[0], (int) k[1], (int) k[2],
        (int) k[3]});
    Operand<TInt32> gShape = tf.shape(a);
    Operand<TFloat32> kernel = tf.reshape(bn.y(), kShape);
    Operand<TFloat32> g = gelu ? Activations.geluTanh(tf, a, 1.0f) : a;

    Operand<TFloat32> dKernel;
    Operand<TFloat32> dg;
    Operand<TFloat32> dBias;
    if (pointwise) {
      Operand<TInt32> inRows = tf.constant(new int[] {-1, (int) k[2]});
      Operand<TInt32> outRows = tf.constant(new int[] {-1, (int) k[3]});
      Operand<TFloat32> g2 = tf.reshape(g, inRows);
      Operand<TFloat32> dy2 = tf.reshape(dy, outRows);
      Operand<TFloat32> k2 = tf.reshape(kernel, tf.constant(new int[] {(int) k[2], (int) k[3]}));
      if (bf16) {
        // dy cast once for both products (each cast is a pass over the whole gradient).
        Operand<TBfloat16> dyb = tf.dtypes.cast(dy2, TBfloat16.class);
        dKernel = tf.reshape(tf.dtypes.cast(tf.linalg.matMul(tf.dtypes.cast(g2, TBfloat16.class),
            dyb, MatMul.transposeA(true)), TFloat32.class), kShape);
        dg = tf.reshape(tf.dtypes.cast(tf.linalg.matMul(dyb, tf.dtypes.cast(k2, TBfloat16.class),
            MatMul.transposeB(true)), TFloat32.class), gShape);
      } else {
        dKernel = tf.reshape(tf.linalg.matMul(g2, dy2, MatMul.transposeA(true)), kShape);
        dg = tf.reshape(tf.linalg.matMul(dy2, k2, MatMul.transposeB(true)), gShape);
      }
      dBias = tf.nn.biasAddGrad(dy);
    } else {
      List<Long> strides = List.of(1L, stride, stride, 1L);
      if (bf16) {
        // The bias gradient of the same bf16 dy as the filter's, as autodiff of the bf16 forward
        // pass has it: oneDNN then computes both in one kernel (Conv2DBackpropFilterWithBias).
        Operand<TBfloat16> dyb = tf.dtypes.cast(dy, TBfloat16.class);
        dKernel = tf.dtypes.cast(tf.nn.conv2dBackpropFilter(tf.dtypes.cast(g, TBfloat16.class),
            kShape, dyb, strides, "SAME"), TFloat32.class);
        dg = tf.dtypes.cast(tf.nn.conv2dBackpropInput(gShape,
            tf.dtypes.cast(kernel, TBfloat16.class), dyb, strides, "SAME"), TFloat32.class);
        dBias = tf.dtypes.cast(tf.nn.biasAddGrad(dyb), TFloat32.class);
      } else {
        dKernel = tf.nn.conv2dBackpropFilter(g, kShape, dy, strides, "SAME");
        dg = tf.nn.conv2dBackpropInput(gShape, kernel, dy, strides, "SAME");
        dBias = tf.nn.biasAddGrad(dy);
      }
    }
    FusedBatchNormGrad<TFloat32, TFloat32> bnGrad = tf.nn.fusedBatchNormGrad(
        tf.reshape(dKernel, tf.constant(new long[] {1, fanIn, 1, -1})),
        tf.reshape(w, tf.constant(new long[] {1, fanIn, 1, -1})), scale,
        bn.reserveSpace1(), bn.reserveSpace2(), bn.reserveSpace3(),
        FusedBatchNormGrad.epsilon(FusedWeightStandardization.EPSILON),
        FusedBatchNormGrad.isTraining(true), FusedBatchNormGrad.dataFormat("NHWC"));
    Operand<TFloat32> dw = tf.reshape(bnGrad.xBackprop(), kShape);
    Operand<TFloat32> da = gelu ? tf.math.mul(dg, RecomputedGelu.slope(tf, a)) : dg;
    // The first input is the StopGradient'ed forward value: whatever it gets goes no further.
    return List.of(dy, da, dw, bnGrad.scaleBackprop(), dBias);
  }

  /**
   * {@code x}, available only once {@code dy} is: what a gradient computes from forward tensors
   * alone then runs in the backward pass. (A gradient function's scope does not apply
   * {@code withControlDependencies}, so the edge is added on the builder.)
   */
  private static Operand<TFloat32> afterGradient(Ops tf, Operand<TFloat32> x,
      Operand<TFloat32> dy) {
    @SuppressWarnings("unchecked")
    Operand<TFloat32> gated = (Operand<TFloat32>) (Object) tf.scope()
        .opBuilder("Identity", "after_gradient").addInput(x.asOutput())
        .addControlInput(dy.op()).build().output(0);
    return gated;
  }
}
