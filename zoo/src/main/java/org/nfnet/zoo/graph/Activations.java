package org.nfnet.zoo.graph;

import org.nfnet.zoo.Activation;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** Builds the gamma-scaled nonlinearities of {@link Activation} as TF ops. */
public final class Activations {
  /** sqrt(2 / pi), as jax.nn.gelu's tanh approximation uses it. */
  private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);

  private Activations() {}

  /** {@code act(x) * gamma}. */
  public static Operand<TFloat32> apply(Ops tf, Activation a, Operand<TFloat32> x) {
    return times(tf, a, x, (float) a.gamma());
  }

  /**
   * {@code act(x)} without gamma, for inputs of WSConv2D: every such consumer is linear (after an
   * average pool at most), so the constant factor (gamma, times the block's beta) is folded into
   * its kernel ({@link org.nfnet.zoo.NFNetStructure#kernelInputScales}) instead of costing a
   * full-size multiply per call and another in the backward pass. Activations are memory-bound on
   * CPU, so each full-tensor op saved is worth it.
   */
  static Operand<TFloat32> unscaled(Ops tf, Activation a, Operand<TFloat32> x) {
    return times(tf, a, x, 1.0f);
  }

  /** {@code act(x) * s}; no multiply at all when {@code s == 1}. */
  private static Operand<TFloat32> times(Ops tf, Activation a, Operand<TFloat32> x, float s) {
    return switch (a) {
      case GELU -> geluTanh(tf, x, s);
      case RELU -> scaled(tf, tf.nn.relu(x), s);
      case SILU -> tf.math.mul(scaled(tf, x, s), tf.math.sigmoid(x));
      case ELU -> scaled(tf, tf.nn.elu(x), s);
      case TANH -> scaled(tf, tf.math.tanh(x), s);
      case SIGMOID -> scaled(tf, tf.math.sigmoid(x), s);
      case IDENTITY -> scaled(tf, x, s);
    };
  }

  private static Operand<TFloat32> scaled(Ops tf, Operand<TFloat32> y, float s) {
    return s == 1.0f ? y : tf.math.mul(y, tf.constant(s));
  }

  /**
   * GELU with the tanh approximation (what {@code jax.nn.gelu} computes by default), times
   * {@code s}: {@code s * x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))}.
   *
   * <p>Evaluated through the identity {@code 0.5 * (1 + tanh(u)) = sigmoid(2u)} as
   * {@code (s * x) * sigmoid(x * (c1 + c2 * x^2))}: 6 element-wise ops instead of 9, agreeing
   * with the tanh form to float32 rounding (~1e-7 relative). TF 2.18 has no stand-alone Gelu op,
   * and the exact (erf) GELU would move logits by ~3e-4 of their range.
   */
  static Operand<TFloat32> geluTanh(Ops tf, Operand<TFloat32> x, float s) {
    float c1 = (float) (2 * SQRT_2_OVER_PI);
    float c2 = (float) (2 * SQRT_2_OVER_PI * 0.044715);
    Operand<TFloat32> z = tf.math.mul(x,
        tf.math.add(tf.math.mul(tf.math.square(x), tf.constant(c2)), tf.constant(c1)));
    return tf.math.mul(scaled(tf, x, s), tf.math.sigmoid(z));
  }
}
