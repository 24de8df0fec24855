package org.nfnet.zoo.graph;

import org.tensorflow.Operand;
import org.tensorflow.TensorFlow;
import org.tensorflow.internal.c_api.TF_Buffer;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.internal.c_api.global.tensorflow;
import org.tensorflow.op.Ops;
import org.tensorflow.op.nn.FusedBatchNorm;
import org.tensorflow.proto.KernelDef;
import org.tensorflow.proto.KernelList;
import org.tensorflow.types.TFloat32;

/**
 * Scaled weight standardization through TF's {@code FusedBatchNormV3} (training mode), a CPU fast
 * path for training graphs.
 *
 * <p>Why: written with element-wise ops ({@link WSConv2D#standardize}), standardization and its
 * autodiff gradient make ~20 full passes over every kernel per step (mean, squared difference,
 * mean, scale and shift forward; broadcasts, negations, partial sums and an AddN backward), a
 * large share of a training step's kernel time on CPU. Seen as a batch norm of the kernel reshaped
 * to {@code [1, H*W*I, 1, O]} (statistics per output channel over H, W, I, population variance, no
 * offset), it is one fused kernel forward and one ({@code FusedBatchNormGradV3}) backward
 * (figures in BENCHMARKS.md, "Where the time goes").
 *
 * <p>Numerics: {@code (w - mean) * rsqrt(var + 1e-12) * gain / sqrt(fan_in)} equals DeepMind's
 * {@code (w - mean) * gain * rsqrt(max(var * fan_in, 1e-4))} to float32 rounding whenever
 * {@code var * fan_in >= 1e-4}, i.e. for every output channel whose weights are not all nearly
 * equal (He-initialised kernels have {@code var * fan_in} = 1; the tests check forward and
 * gradient against the element-wise form). Only such degenerate channels, where DeepMind's floor
 * takes over, standardize differently. Exports and inference graphs always use the element-wise
 * form.
 *
 * <p>Portability: cuDNN rejects batch-norm epsilons below 1e-5, which would be 1-10% of a kernel's
 * variance here, so this path is only {@link #supported()} with a CPU-only TensorFlow native
 * library. XLA compiles it on any device.
 */
public final class FusedWeightStandardization {
  /** Keeps rsqrt finite for an all-equal kernel, ~1e-8 of any realistic kernel variance. */
  static final float EPSILON = 1e-12f;
  /** System property that, set to {@code false}, forces the element-wise form everywhere. */
  public static final String PROPERTY = "nfnet.fusedStandardization";

  private static volatile Boolean cpuOnly;

  private FusedWeightStandardization() {}

  /**
   * Whether training graphs use this path: the native library registers no GPU kernel for
   * {@code FusedBatchNormV3} and {@value #PROPERTY} is not {@code false}.
   */
  public static boolean supported() {
    if ("false".equalsIgnoreCase(System.getProperty(PROPERTY))) {
      return false;
    }
    Boolean c = cpuOnly;
    if (c == null) {
      c = !hasGpuKernel(FusedBatchNorm.OP_NAME);
      cpuOnly = c;
    }
    return c;
  }

  private static boolean hasGpuKernel(String op) {
    TensorFlow.version(); // loads the native library
    try (TF_Status status = TF_Status.newStatus()) {
      TF_Buffer buf = tensorflow.TF_GetRegisteredKernelsForOp(op, status);
      status.throwExceptionIfNotOK();
      try {
        KernelList kernels = KernelList.parseFrom(buf.copyData());
        for (KernelDef k : kernels.getKernelList()) {
          if (!"CPU".equals(k.getDeviceType())) {
            return true;
          }
        }
        return false;
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalStateException("unreadable kernel list from TensorFlow for " + op, e);
      } finally {
        buf.delete();
      }
    }
  }

  /**
   * The standardised, gain-scaled HWIO kernel, as {@link WSConv2D#standardize}: the output of
   * {@link #batchNorm} of {@code w} (for the {@link #scale} of the gain) in {@code w}'s shape.
   */
  static Operand<TFloat32> kernel(Ops tf, FusedBatchNorm<TFloat32, TFloat32> bn,
      Operand<TFloat32> w) {
    return tf.reshape(bn.y(), tf.shape(w));
  }

  /**
   * The batch norm's scale: {@code gain * inputScale / sqrt(fan_in)}, one multiply by one
   * constant. Why one: Grappler's arithmetic optimizer regroups {@code (gain * a) * b} as
   * {@code gain * (a * b)} in some graphs and not in others, so a recomputing training step
   * rounded the scale differently from the one-piece step (bf16 grew that into T0 gradients up
   * to 1.4% apart).
   *
   * @param inputScale the constant the layer's input was scaled by (1 for none), folded in here
   */
  static Operand<TFloat32> scale(Ops tf, Operand<TFloat32> gain, float inputScale, long fanIn) {
    return tf.math.mul(gain, tf.constant((float) (inputScale / Math.sqrt(fanIn))));
  }

  /**
   * The training-mode batch norm of {@code w} seen as {@code [1, fan_in, 1, O]} (its {@code y},
   * reshaped to HWIO, is the standardized kernel; its reserve outputs feed
   * {@code FusedBatchNormGradV3}).
   */
  static FusedBatchNorm<TFloat32, TFloat32> batchNorm(Ops tf, Operand<TFloat32> w,
      Operand<TFloat32> scale, long fanIn) {
    // HWIO is row-major with O last, so [H*W*I, O] is a free reshape and each column one unit.
    Operand<TFloat32> x = tf.reshape(w, tf.constant(new long[] {1, fanIn, 1, -1}));
    Operand<TFloat32> empty = tf.constant(new float[0]);
    return tf.nn.fusedBatchNorm(x, scale, tf.zerosLike(scale), empty, empty,
        FusedBatchNorm.epsilon(EPSILON), FusedBatchNorm.isTraining(true),
        FusedBatchNorm.dataFormat("NHWC"));
  }
}
