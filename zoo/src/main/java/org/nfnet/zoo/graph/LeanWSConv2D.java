package org.nfnet.zoo.graph;

import java.util.ArrayList;
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
 * The backward pass of a {@link WSConv2D} in a training graph that holds no float32 standardized
 * kernel and, when the convolution's input is a GELU, not the GELU's output either. In float32
 * both are computed again, from the raw kernel and from the GELU's input, when the gradient
 * reaches the convolution. In bf16 the backward pass reads the two bf16 casts the forward
 * convolution read instead: half the bytes of their float32 sources, and recomputing them (a
 * batch norm, a GELU and two casts per convolution) sat on the backward pass's critical path
 * (F0 bf16 step 1.04-1.08x for 0.16 GB of resident memory; BENCHMARKS.md, round 9).
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
 * kernel, the standardization scale and the bias, and in bf16 the standardization's batch-norm
 * reserves and the two casts (behind {@code StopGradient}s); the op's attributes carry the
 * stride, the kernel shape, the precision, whether the product is pointwise and whether a GELU is
 * recomputed. Its gradient ({@link #gradient}, dispatched from {@link RecomputedGelu}'s
 * registration for {@code IdentityN}) waits for the incoming gradient, recomputes (in float32),
 * and writes out the convolution's, the standardization's ({@code FusedBatchNormGradV3}) and the
 * GELU's backward passes with the ops TF's own gradients use. Only graphs with fused
 * standardization use it (CPU without XLA; XLA plans its own buffers).
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
  /** Inputs of a bf16 op: the five of float32, the batch norm's three reserves, two bf16 casts. */
  private static final int BF16_INPUTS = 10;

  private LeanWSConv2D() {}

  /**
   * What a convolution's backward pass may need from its forward pass: its output {@code y} and
   * input {@code x}, the raw kernel {@code w}, the standardization's {@code scale} and batch norm,
   * the {@code bias}, and in bf16 the two casts the convolution read (else null).
   */
  record Forward(Operand<TFloat32> y, Operand<TFloat32> x, Operand<TFloat32> w,
      Operand<TFloat32> scale, FusedBatchNorm<TFloat32, TFloat32> standardization,
      Operand<TFloat32> bias, Operand<TBfloat16> xBf16, Operand<TBfloat16> kernelBf16) {}

  /**
   * {@code f.y()} with the lean backward pass. When {@code f.x()} is a {@link RecomputedGelu}
   * output, the backward pass keeps the GELU's input instead of {@code x}.
   */
  static Operand<TFloat32> wrap(Ops tf, Forward f, int stride, boolean pointwise) {
    Operand<TFloat32> geluInput = RecomputedGelu.input(f.x());
    boolean bf16 = f.xBf16() != null;
    Operand<TFloat32> kept = geluInput != null ? geluInput : f.x();
    List<Output<?>> inputs = new ArrayList<>(List.of(tf.stopGradient(f.y()).asOutput(),
        kept.asOutput(), f.w().asOutput(), f.scale().asOutput(), f.bias().asOutput()));
    if (bf16) {
      // Behind StopGradient: autodiff must not also differentiate these through their casts.
      FusedBatchNorm<TFloat32, TFloat32> bn = f.standardization();
      for (Operand<?> t : List.of(bn.reserveSpace1(), bn.reserveSpace2(), bn.reserveSpace3(),
          f.kernelBf16(), f.xBf16())) {
        inputs.add(tf.stopGradient(t).asOutput());
      }
    }
    GraphOperation op = (GraphOperation) tf.scope().opBuilder("IdentityN", OP_NAME)
        .addInputList(inputs.toArray(Output<?>[]::new)).setAttr(STRIDE, (long) stride)
        .setAttr(BF16, bf16).setAttr(POINTWISE, pointwise).setAttr(GELU, geluInput != null)
        .setAttr(KERNEL, f.w().shape().asArray()).build();
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
    return (op.numInputs() == 5 || op.numInputs() == BF16_INPUTS)
        && OURS.matcher(op.name()).matches();
  }

  @SuppressWarnings("unchecked")
  static List<Operand<?>> gradient(Ops tf, GraphOperation op, List<Output<?>> dys) {
    Operand<TFloat32> dy = (Operand<TFloat32>) dys.get(0);
    // Everything recomputed below reads forward tensors only, so without these edges TF's
    // executor would recompute the GELU and the kernel during the forward pass and hold them:
    // the point is to compute them when the gradient arrives.
    boolean gelu = op.attributes().getAttrBool(GELU);
    boolean bf16 = op.attributes().getAttrBool(BF16);
    Operand<TFloat32> kept = (Operand<TFloat32>) op.input(1);
    Operand<TFloat32> a = gelu ? afterGradient(tf, kept, dy) : null;
    Operand<TFloat32> w = (Operand<TFloat32>) op.input(2);
    Operand<TFloat32> scale = (Operand<TFloat32>) op.input(3);
    long stride = op.attributes().getAttrInt(STRIDE);
    boolean pointwise = op.attributes().getAttrBool(POINTWISE);

    long[] k = op.attributes().getAttrIntList(KERNEL);
    long fanIn = k[0] * k[1] * k[2];
    Operand<TInt32> kShape = tf.constant(new int[] {(int) k[0], (int) k[1], (int) k[2],
        (int) k[3]});
    Operand<TInt32> gShape = tf.shape(kept);
    // The standardization's reserves and the kernel and input as the convolution read them: in
    // bf16 the forward pass's own (half the size of their float32 sources, and recomputing them,
    // a batch norm, a GELU and two casts, sat on the backward pass's critical path), in float32
    // recomputed.
    Operand<?>[] reserves;
    Operand<?> kernel;
    Operand<?> input;
    if (bf16) {
      reserves = new Operand<?>[] {op.input(5), op.input(6), op.input(7)};
      kernel = op.input(8);
      input = op.input(9);
    } else {
      FusedBatchNorm<TFloat32, TFloat32> bn = FusedWeightStandardization.batchNorm(tf,
          afterGradient(tf, w, dy), scale, fanIn);
      reserves = new Operand<?>[] {bn.reserveSpace1(), bn.reserveSpace2(), bn.reserveSpace3()};
      kernel = tf.reshape(bn.y(), kShape);
      input = gelu ? Activations.geluTanh(tf, a, 1.0f) : kept;
    }

    Operand<TFloat32> dKernel;
    Operand<TFloat32> dg;
    Operand<TFloat32> dBias;
    if (pointwise) {
      Operand<TInt32> inRows = tf.constant(new int[] {-1, (int) k[2]});
      Operand<TInt32> outRows = tf.constant(new int[] {-1, (int) k[3]});
      Operand<TInt32> matrix = tf.constant(new int[] {(int) k[2], (int) k[3]});
      if (bf16) {
        // dy cast once for both products (each cast is a pass over the whole gradient).
        Operand<TBfloat16> dyb = tf.dtypes.cast(tf.reshape(dy, outRows), TBfloat16.class);
        dKernel = tf.reshape(tf.dtypes.cast(tf.linalg.matMul(
            tf.reshape((Operand<TBfloat16>) input, inRows), dyb, MatMul.transposeA(true)),
            TFloat32.class), kShape);
        dg = tf.reshape(tf.dtypes.cast(tf.linalg.matMul(dyb,
            tf.reshape((Operand<TBfloat16>) kernel, matrix), MatMul.transposeB(true)),
            TFloat32.class), gShape);
      } else {
        Operand<TFloat32> dy2 = tf.reshape(dy, outRows);
        dKernel = tf.reshape(tf.linalg.matMul(tf.reshape((Operand<TFloat32>) input, inRows), dy2,
            MatMul.transposeA(true)), kShape);
        dg = tf.reshape(tf.linalg.matMul(dy2, tf.reshape((Operand<TFloat32>) kernel, matrix),
            MatMul.transposeB(true)), gShape);
      }
      dBias = tf.nn.biasAddGrad(dy);
    } else {
      List<Long> strides = List.of(1L, stride, stride, 1L);
      if (bf16) {
        // The bias gradient of the same bf16 dy as the filter's, as autodiff of the bf16 forward
        // pass has it: oneDNN then computes both in one kernel (Conv2DBackpropFilterWithBias).
        Operand<TBfloat16> dyb = tf.dtypes.cast(dy, TBfloat16.class);
        dKernel = tf.dtypes.cast(tf.nn.conv2dBackpropFilter((Operand<TBfloat16>) input, kShape,
            dyb, strides, "SAME"), TFloat32.class);
        dg = tf.dtypes.cast(tf.nn.conv2dBackpropInput(gShape, (Operand<TBfloat16>) kernel, dyb,
            strides, "SAME"), TFloat32.class);
        dBias = tf.dtypes.cast(tf.nn.biasAddGrad(dyb), TFloat32.class);
      } else {
        dKernel = tf.nn.conv2dBackpropFilter((Operand<TFloat32>) input, kShape, dy, strides,
            "SAME");
        dg = tf.nn.conv2dBackpropInput(gShape, (Operand<TFloat32>) kernel, dy, strides, "SAME");
        dBias = tf.nn.biasAddGrad(dy);
      }
    }
    FusedBatchNormGrad<TFloat32, TFloat32> bnGrad = tf.nn.fusedBatchNormGrad(
        tf.reshape(dKernel, tf.constant(new long[] {1, fanIn, 1, -1})),
        tf.reshape(w, tf.constant(new long[] {1, fanIn, 1, -1})), scale,
        (Operand<TFloat32>) reserves[0], (Operand<TFloat32>) reserves[1],
        (Operand<TFloat32>) reserves[2],
        FusedBatchNormGrad.epsilon(FusedWeightStandardization.EPSILON),
        FusedBatchNormGrad.isTraining(true), FusedBatchNormGrad.dataFormat("NHWC"));
    Operand<TFloat32> dw = tf.reshape(bnGrad.xBackprop(), kShape);
    Operand<TFloat32> dKept = gelu ? tf.math.mul(dg, RecomputedGelu.slope(tf, a)) : dg;
    List<Operand<?>> grads = new ArrayList<>(List.of(dy, dKept, dw, bnGrad.scaleBackprop(),
        dBias));
    // The first input, and in bf16 the last five, are StopGradient'ed forward values: whatever
    // they get goes no further, so they get themselves (of the right type and shape).
    for (int i = grads.size(); i < op.numInputs(); i++) {
      grads.add(op.input(i));
    }
    return grads;
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
