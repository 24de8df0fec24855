package org.nfnet.zoo.graph;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Random per-example masks for stochastic depth and dropout, from stateless random ops.
 *
 * <p>DeepMind's StochDepth: {@code mask = floor(keep_prob + U[0,1))} per example, applied to the
 * residual branch without rescaling. Masks are wrapped in stopGradient: they are constants of the
 * step, and TF has no gradient for the stateless random ops' seed input.
 *
 * <p>Two sources of the uniform numbers: TF's {@code StatelessRandomUniform} (Philox), or, with
 * {@link ForwardOptions#hashMasks()}, SplitMix64's finalizer applied to (seed, element index) in
 * int64 arithmetic. Why the second: XLA's stateless random ops draw different numbers than TF's
 * kernels for the same seed (measured on CPU, even for {@code StatelessRandomUniformV2} with the
 * same Philox key and counter), and TF's int64-seeded op has no XLA kernel at all; integer
 * arithmetic is exact, so hashed masks are identical with and without XLA and compile into the
 * step's cluster. SplitMix64 (Steele et al. 2014) is what {@code java.util.SplittableRandom}
 * uses; its finalizer passes avalanche tests, ample for per-example keep/drop decisions.
 */
final class StochasticDepth {
  private StochasticDepth() {}

  /** Seed for the {@code salt}-th random op of one step: the step seed plus [0, salt]. */
  static Operand<TInt64> subSeed(Ops tf, Operand<TInt64> seed, long salt) {
    return tf.math.add(seed, tf.constant(new long[] {0L, salt}));
  }

  /** A {0,1} mask of shape [N, 1, 1, 1] keeping each example with probability 1 - rate. */
  static Operand<TFloat32> batchMask(Ops tf, Operand<TFloat32> x, double rate, Operand<TInt64> seed,
      boolean hash) {
    Operand<TInt32> batch = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    Operand<TInt32> shape = tf.concat(java.util.List.of(batch, tf.constant(new int[] {1, 1, 1})),
        tf.constant(0));
    Operand<TFloat32> r = uniform(tf, shape, seed, hash);
    return tf.stopGradient(tf.math.floor(tf.math.add(tf.constant((float) (1.0 - rate)), r)));
  }

  static Operand<TFloat32> apply(Ops tf, Operand<TFloat32> branch, double rate, Operand<TInt64> seed,
      boolean hash) {
    return tf.math.mul(branch, batchMask(tf, branch, rate, seed, hash));
  }

  /** Inverted dropout as hk.dropout: keep with probability 1 - rate and divide by it. */
  static Operand<TFloat32> dropout(Ops tf, Operand<TFloat32> x, double rate, Operand<TInt64> seed,
      boolean hash) {
    Operand<TFloat32> r = uniform(tf, tf.shape(x), seed, hash);
    float keep = (float) (1.0 - rate);
    Operand<TFloat32> mask = tf.stopGradient(tf.math.floor(tf.math.add(tf.constant(keep), r)));
    return tf.math.div(tf.math.mul(x, mask), tf.constant(keep));
  }

  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  /** Uniform floats in [0, 1) of {@code shape}: Philox (TF's kernel) or the SplitMix64 hash. */
  static Operand<TFloat32> uniform(Ops tf, Operand<TInt32> shape, Operand<TInt64> seed,
      boolean hash) {
    if (!hash) {
      return tf.random.statelessRandomUniform(shape, seed, TFloat32.class);
    }
    // One 64-bit stream position per element: mix(seed) + (index + 1) * golden gamma, then the
    // SplitMix64 finalizer. Products wrap modulo 2^64 (two's complement), as Java's long does.
    Operand<TInt64> key = tf.reduceSum(tf.math.mul(seed,
        tf.constant(new long[] {0xBF58476D1CE4E5B9L, 0x94D049BB133111EBL})), tf.constant(0));
    Operand<TInt64> n = tf.dtypes.cast(tf.reduceProd(shape, tf.constant(0)), TInt64.class);
    Operand<TInt64> index = tf.range(tf.constant(1L), tf.math.add(n, tf.constant(1L)),
        tf.constant(1L));
    Operand<TInt64> z = tf.math.add(key, tf.math.mul(index, tf.constant(GOLDEN)));
    z = tf.math.mul(xorShift(tf, z, 30), tf.constant(0xBF58476D1CE4E5B9L));
    z = tf.math.mul(xorShift(tf, z, 27), tf.constant(0x94D049BB133111EBL));
    z = xorShift(tf, z, 31);
    // The top 24 bits as a float in [0, 1), exact in float32.
    Operand<TInt64> top = shiftRightUnsigned(tf, z, 40);
    Operand<TFloat32> u = tf.math.mul(tf.dtypes.cast(top, TFloat32.class),
        tf.constant(1.0f / (1 << 24)));
    return tf.reshape(u, shape);
  }

  private static Operand<TInt64> xorShift(Ops tf, Operand<TInt64> z, int k) {
    return tf.bitwise.bitwiseXor(z, shiftRightUnsigned(tf, z, k));
  }

  /** Java's {@code >>>}: TF's RightShift is arithmetic on signed types, so mask the sign fill. */
  private static Operand<TInt64> shiftRightUnsigned(Ops tf, Operand<TInt64> z, int k) {
    return tf.bitwise.bitwiseAnd(tf.bitwise.rightShift(z, tf.constant((long) k)),
        tf.constant(-1L >>> k));
  }
}
