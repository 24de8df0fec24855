package org.nfnet.zoo.graph;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TNumber;

/**
 * Random per-example masks for stochastic depth and dropout, from stateless random ops.
 *
 * <p>DeepMind's StochDepth: {@code mask = floor(keep_prob + U[0,1))} per example, applied to the
 * residual branch without rescaling. Masks are wrapped in stopGradient: they are constants of the
 * step, and TF has no gradient for the stateless random ops' seed input.
 */
final class StochasticDepth {
  private StochasticDepth() {}

  /** Seed for the {@code salt}-th random op of one step: the step seed plus [0, salt]. */
  static Operand<TInt64> subSeed(Ops tf, Operand<TInt64> seed, long salt) {
    return tf.math.add(seed, tf.constant(new long[] {0L, salt}));
  }

  /** The seed of the {@code salt}-th mask of a forward pass, int32 if the options ask for it. */
  static Operand<? extends TNumber> maskSeed(Ops tf, ForwardOptions options, long salt) {
    Operand<TInt64> s = subSeed(tf, options.seed(), salt);
    return options.int32Seeds() ? tf.dtypes.cast(s, TInt32.class) : s;
  }

  /** A {0,1} mask of shape [N, 1, 1, 1] keeping each example with probability 1 - rate. */
  static Operand<TFloat32> batchMask(Ops tf, Operand<TFloat32> x, double rate,
      Operand<? extends TNumber> seed) {
    Operand<TInt32> batch = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    Operand<TInt32> shape = tf.concat(java.util.List.of(batch, tf.constant(new int[] {1, 1, 1})),
        tf.constant(0));
    Operand<TFloat32> r = tf.random.statelessRandomUniform(shape, seed, TFloat32.class);
    return tf.stopGradient(tf.math.floor(tf.math.add(tf.constant((float) (1.0 - rate)), r)));
  }

  static Operand<TFloat32> apply(Ops tf, Operand<TFloat32> branch, double rate,
      Operand<? extends TNumber> seed) {
    return tf.math.mul(branch, batchMask(tf, branch, rate, seed));
  }

  /** Inverted dropout as hk.dropout: keep with probability 1 - rate and divide by it. */
  static Operand<TFloat32> dropout(Ops tf, Operand<TFloat32> x, double rate,
      Operand<? extends TNumber> seed) {
    Operand<TFloat32> r = tf.random.statelessRandomUniform(tf.shape(x), seed, TFloat32.class);
    float keep = (float) (1.0 - rate);
    Operand<TFloat32> mask = tf.stopGradient(tf.math.floor(tf.math.add(tf.constant(keep), r)));
    return tf.math.div(tf.math.mul(x, mask), tf.constant(keep));
  }
}
