package org.nfnet.training;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.linalg.EuclideanNorm;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;

/**
 * Adaptive Gradient Clipping (paper Sec. 4): a gradient is clipped unit-wise, per output unit,
 * when its norm exceeds {@code clipping * max(||W||, eps)}.
 *
 * <p>Why unit-wise: one global threshold lets a single large layer dominate; comparing each
 * output unit's gradient to that unit's own weight norm bounds the <em>relative</em> change of
 * every unit per step, which is what lets NFNets train with large batches and strong
 * augmentation without BatchNorm. The eps floor keeps zero-initialised parameters (skip gains,
 * biases) from being frozen at zero.
 *
 * <p>Units follow DeepMind's {@code unitwise_norm}: HWIO kernels reduce over H, W, I (one norm per
 * output channel); [in, out] linear weights (and rank 3) reduce over in; tensors with at most one
 * non-singleton dimension (vectors, scalars) use one norm for the whole tensor.
 *
 * <p>A gradient transformation on its own, as DeepMind's {@code agc_optax.adaptive_grad_clip}: an
 * instance maps (gradients, parameter values) to clipped gradients, which can then go to any
 * optimizer ({@link SgdAgcOptimizer} applies it first, or e.g. TF Java's framework
 * {@code Momentum} could take its output).
 */
public final class AdaptiveGradientClipping {
  /** Floor on the gradient norm in the rescale factor, DeepMind's "just-in-case" 1e-6. */
  public static final float MIN_GRAD_NORM = 1e-6f;

  private final float clipping;
  private final float eps;
  private final Predicate<ParameterSpec> clipped;
  private final boolean fusedNorms;

  /**
   * @param clipping lambda (0.01 in the paper at batch 4096); 0 turns clipping off
   * @param eps floor on the parameter norm (1e-3)
   * @param clipped which parameters are clipped (DeepMind: all but the classifier)
   */
  public AdaptiveGradientClipping(double clipping, double eps, Predicate<ParameterSpec> clipped) {
    this(clipping, eps, clipped, true);
  }

  private AdaptiveGradientClipping(double clipping, double eps, Predicate<ParameterSpec> clipped,
      boolean fusedNorms) {
    this.clipping = (float) clipping;
    this.eps = (float) eps;
    this.clipped = clipped;
    this.fusedNorms = fusedNorms;
  }

  /**
   * The same transformation with unit norms from TF's one-pass {@code EuclideanNorm} (the default)
   * or from square-then-sum, which XLA can compile ({@code EuclideanNorm} has no XLA kernel).
   */
  public AdaptiveGradientClipping withFusedNorms(boolean fused) {
    return new AdaptiveGradientClipping(clipping, eps, clipped, fused);
  }

  /**
   * The clipped gradients, in the order of {@code specs}; {@code stats.get(i)} is null for a
   * parameter that is not clipped (its gradient passes through unchanged).
   */
  public record Result(List<Operand<TFloat32>> grads, List<Clipped> stats) {}

  /**
   * Clips every gradient whose parameter this transformation applies to.
   *
   * @param params the parameters' current values (value tensors, e.g. Identity reads)
   */
  public Result apply(Ops tf, List<ParameterSpec> specs, List<Operand<TFloat32>> grads,
      List<Operand<TFloat32>> params) {
    List<Operand<TFloat32>> out = new ArrayList<>(grads.size());
    List<Clipped> stats = new ArrayList<>(grads.size());
    for (int i = 0; i < specs.size(); i++) {
      if (clipping > 0 && clipped.test(specs.get(i))) {
        Clipped c = clip(tf, grads.get(i), params.get(i), specs.get(i).shape(), clipping, eps,
            fusedNorms);
        out.add(c.grad());
        stats.add(c);
      } else {
        out.add(grads.get(i));
        stats.add(null);
      }
    }
    return new Result(out, stats);
  }

  /**
   * Axes reduced to get unit norms, or {@code null} for one norm over the whole tensor. Mirrors
   * DeepMind: the vector/scalar test looks at the squeezed shape, the others at the raw rank.
   */
  public static int[] unitAxes(long[] shape) {
    int nonSingleton = 0;
    for (long d : shape) {
      if (d != 1) {
        nonSingleton++;
      }
    }
    if (nonSingleton <= 1) {
      return null;
    }
    return switch (shape.length) {
      case 2, 3 -> new int[] {0};
      case 4 -> new int[] {0, 1, 2};
      default -> throw new IllegalArgumentException(
          "AGC supports parameters of rank <= 4, got shape " + java.util.Arrays.toString(shape));
    };
  }

  /** Number of units (independently clipped slices) of a parameter of this shape. */
  public static long unitCount(long[] shape) {
    int[] axes = unitAxes(shape);
    if (axes == null) {
      return 1;
    }
    long n = 1;
    outer:
    for (int i = 0; i < shape.length; i++) {
      for (int a : axes) {
        if (a == i) {
          continue outer;
        }
      }
      n *= shape[i];
    }
    return n;
  }

  /**
   * Unit-wise L2 norms; keeps reduced dimensions so the result broadcasts against {@code x}, a value
   * tensor (e.g. a variable's Identity read), never a ref. {@code fused} chooses TF's
   * {@code EuclideanNorm}, which reduces sqrt(sum(x^2)) in one read of x, where square-then-sum
   * writes and re-reads a full-size squared copy of every parameter and gradient each step.
   * EuclideanNorm has no XLA kernel, though, so XLA-compiled steps use square-then-sum (XLA fuses
   * the two anyway).
   */
  public static Operand<TFloat32> unitNorm(Ops tf, Operand<TFloat32> x, long[] shape,
      boolean fused) {
    int[] axes = unitAxes(shape);
    boolean keep = axes != null;
    if (axes == null) {
      // One norm for the whole tensor, a scalar: broadcasts against any shape.
      axes = new int[shape.length];
      for (int i = 0; i < axes.length; i++) {
        axes[i] = i;
      }
    }
    if (fused) {
      return tf.linalg.euclideanNorm(x, tf.constant(axes), EuclideanNorm.keepDims(keep));
    }
    return tf.math.sqrt(tf.reduceSum(tf.math.square(x), tf.constant(axes),
        ReduceSum.keepDims(keep)));
  }

  /**
   * A clipped gradient plus how many of its units were rescaled.
   *
   * @param grad the gradient after clipping
   * @param clippedUnits float32 scalar: number of units whose norm exceeded the threshold
   * @param units total number of units of this parameter
   */
  public record Clipped(Operand<TFloat32> grad, Operand<TFloat32> clippedUnits, long units) {}

  /**
   * Clips {@code grad} of parameter {@code param} (both of {@code shape}).
   *
   * <p>{@code g <- g * max_norm / max(||g||, 1e-6)} where {@code ||g|| > max_norm}, with
   * {@code max_norm = clipping * max(||W||, eps)}; other units pass through bit-exact (multiplied by
   * exactly 1). {@code fusedNorms} as in {@link #unitNorm(Ops, Operand, long[], boolean)}.
   */
  public static Clipped clip(Ops tf, Operand<TFloat32> grad, Operand<TFloat32> param, long[] shape,
      float clipping, float eps, boolean fusedNorms) {
    Operand<TFloat32> paramNorm = tf.math.maximum(unitNorm(tf, param, shape, fusedNorms),
        tf.constant(eps));
    Operand<TFloat32> gradNorm = unitNorm(tf, grad, shape, fusedNorms);
    Operand<TFloat32> maxNorm = tf.math.mul(paramNorm, tf.constant(clipping));
    Operand<TBool> trigger = tf.math.greater(gradNorm, maxNorm);
    Operand<TFloat32> scale = tf.math.div(maxNorm,
        tf.math.maximum(gradNorm, tf.constant(MIN_GRAD_NORM)));
    // The per-unit factor is chosen on the small unit tensor and applied in one full-size multiply
    // (x * 1.0f is exact, so unclipped units stay bit-exact), instead of a full-size multiply and
    // a full-size select.
    Operand<TFloat32> factor = tf.select(trigger, scale, tf.onesLike(scale));
    Operand<TFloat32> clipped = tf.math.mul(grad, factor);
    Operand<TFloat32> count = tf.reduceSum(tf.dtypes.cast(trigger, TFloat32.class),
        allAxes(tf, trigger));
    return new Clipped(clipped, count, unitCount(shape));
  }

  static Operand<org.tensorflow.types.TInt32> allAxes(Ops tf, Operand<?> x) {
    return tf.range(tf.constant(0), tf.rank(x), tf.constant(1));
  }
}
