package org.nfnet.zoo.graph;

import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * In-graph versions of the Haiku initializers DeepMind's NFNet uses.
 *
 * <p>Why not TF Java's framework initializers ({@code TruncatedNormal}, {@code VarianceScaling}):
 * their seed is a Java {@code long} fixed when the graph is built ({@code {seed, 0}} as a
 * constant), while here every parameter's seed is derived in-graph from the initializer's seed
 * operand, so one graph re-initialises with any seed; they would also add tensorflow-framework to
 * the zoo for a truncated normal times a constant.
 */
final class Initializers {
  /** Std of a unit normal truncated to [-2, 2]; Haiku divides by it to keep the target variance. */
  private static final double TRUNCATED_STD = 0.87962566103423978;

  private Initializers() {}

  static Operand<TFloat32> value(Ops tf, ParameterSpec spec, ParameterInit init, Operand<TInt64> seed) {
    long[] shape = spec.shape();
    Operand<TInt64> dims = tf.constant(shape);
    long fanIn = 1;
    for (int i = 0; i < shape.length - 1; i++) {
      fanIn *= shape[i];
    }
    return switch (init) {
      case ONES -> tf.fill(dims, tf.constant(1.0f));
      case ZEROS -> tf.fill(dims, tf.constant(0.0f));
      case CONV_FAN_IN -> scaled(tf, tf.random.statelessTruncatedNormal(dims, seed, TFloat32.class),
          Math.sqrt(1.0 / fanIn) / TRUNCATED_STD);
      case LINEAR_FAN_IN -> scaled(tf, tf.random.statelessTruncatedNormal(dims, seed, TFloat32.class),
          1.0 / Math.sqrt(fanIn));
      case CLASSIFIER_NORMAL -> scaled(tf, tf.random.statelessRandomNormal(dims, seed, TFloat32.class),
          0.01);
    };
  }

  private static Operand<TFloat32> scaled(Ops tf, Operand<TFloat32> x, double std) {
    return tf.math.mul(x, tf.constant((float) std));
  }
}
