package org.nfnet.zoo.graph;

import org.nfnet.zoo.Activation;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** Builds the gamma-scaled nonlinearities of {@link Activation} as TF ops. */
public final class Activations {
  /** sqrt(2 / pi), as jax.nn.gelu's tanh approximation uses it. */
  private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

  private Activations() {}

  public static Operand<TFloat32> apply(Ops tf, Activation a, Operand<TFloat32> x) {
    Operand<TFloat32> y = switch (a) {
      case GELU -> geluTanh(tf, x);
      case RELU -> tf.nn.relu(x);
      case SILU -> tf.math.mul(x, tf.math.sigmoid(x));
      case ELU -> tf.nn.elu(x);
      case TANH -> tf.math.tanh(x);
      case SIGMOID -> tf.math.sigmoid(x);
      case IDENTITY -> x;
    };
    return a == Activation.IDENTITY ? y : tf.math.mul(y, tf.constant((float) a.gamma()));
  }

  /**
   * GELU with the tanh approximation, in the same operation order as {@code jax.nn.gelu}
   * (approximate=True): x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))). TF 2.18 has no
   * stand-alone Gelu op, and Erf-based GELU would differ from DeepMind's numerics.
   */
  static Operand<TFloat32> geluTanh(Ops tf, Operand<TFloat32> x) {
    Operand<TFloat32> cube = tf.math.mul(tf.math.mul(x, x), x);
    Operand<TFloat32> inner = tf.math.mul(tf.constant(SQRT_2_OVER_PI),
        tf.math.add(x, tf.math.mul(tf.constant(0.044715f), cube)));
    Operand<TFloat32> cdf = tf.math.mul(tf.constant(0.5f),
        tf.math.add(tf.constant(1.0f), tf.math.tanh(inner)));
    return tf.math.mul(x, cdf);
  }
}
