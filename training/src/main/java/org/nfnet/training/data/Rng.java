package org.nfnet.training.data;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Stateless in-graph randomness: every draw uses the seed pair {@code [mix(base, k), index]} where
 * {@code base} is the user seed, {@code k} counts the draws made while building the graph and
 * {@code index} is the pipeline's running element/batch index. The same seed therefore gives the
 * same numbers regardless of thread scheduling in parallel maps.
 */
final class Rng {
  private final Ops tf;
  private final long base;
  private final Operand<TInt64> index;
  private long draws;

  Rng(Ops tf, long base, Operand<TInt64> index) {
    this.tf = tf;
    this.base = base;
    this.index = index;
  }

  /** Derives an independent stream (for a sub-component) with its own counter. */
  Rng fork(long salt) {
    return new Rng(tf, mix(base ^ mix(salt + 0x9E3779B97F4A7C15L)), index);
  }

  Operand<TInt64> seed() {
    long s = mix(base + 0x9E3779B97F4A7C15L * (++draws));
    return tf.concat(
        java.util.List.of(tf.constant(new long[] {s}), tf.reshape(index, tf.constant(new int[] {1}))),
        tf.constant(0));
  }

  /** Uniform floats in [lo, hi) with the given shape. */
  Operand<TFloat32> uniform(Operand<TInt32> shape, float lo, float hi) {
    Operand<TFloat32> u = tf.random.statelessRandomUniform(shape, seed(), TFloat32.class);
    if (lo == 0f && hi == 1f) return u;
    return tf.math.add(tf.math.mul(u, tf.constant(hi - lo)), tf.constant(lo));
  }

  Operand<TFloat32> uniform(int[] shape, float lo, float hi) {
    return uniform(tf.constant(shape), lo, hi);
  }

  /** Uniform ints in [lo, hi). */
  Operand<TInt32> uniformInt(Operand<TInt32> shape, int lo, int hi) {
    return tf.random.statelessRandomUniformInt(shape, seed(), tf.constant(lo), tf.constant(hi));
  }

  /** Beta(alpha, alpha) samples of the given shape (ratio of two gammas). */
  Operand<TFloat32> beta(Operand<TInt32> shape, float alpha) {
    if (alpha == 1f) return uniform(shape, 0f, 1f);
    Operand<TFloat32> a = gamma(shape, alpha);
    Operand<TFloat32> b = gamma(shape, alpha);
    return tf.math.divNoNan(a, tf.math.add(a, b));
  }

  private Operand<TFloat32> gamma(Operand<TInt32> shape, float alpha) {
    var kca = tf.random.statelessRandomGetKeyCounterAlg(seed());
    return tf.random.statelessRandomGamma(shape, kca.key(), kca.counter(), kca.alg(), tf.constant(alpha));
  }

  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
