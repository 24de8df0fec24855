package org.nfnet.zoo.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** The in-graph SplitMix64 uniforms against a plain-Java SplitMix64 written from its definition. */
class HashMaskTest {

  /** SplitMix64 (Steele, Lea, Flood 2014): the finalizer of java.util.SplittableRandom. */
  private static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  @Test
  void matchesSplitMix64AndKeepsTheRate() {
    long s0 = 0x5DEECE66DL ^ 7;
    long s1 = 123_456_789_012L;
    int n = 4000;
    float[] want = new float[n];
    long key = s0 * 0xBF58476D1CE4E5B9L + s1 * 0x94D049BB133111EBL;
    for (int i = 0; i < n; i++) {
      long z = mix64(key + (i + 1L) * 0x9E3779B97F4A7C15L);
      want[i] = (z >>> 40) / (float) (1 << 24);
    }
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      var u = StochasticDepth.uniform(tf, tf.constant(new int[] {n / 4, 4}),
          tf.constant(new long[] {s0, s1}), true);
      var mask = StochasticDepth.batchMask(tf, tf.zeros(tf.constant(new int[] {n, 2, 2, 1}),
          TFloat32.class), 0.25, tf.constant(new long[] {s0, s1}), true);
      try (Result r = s.runner().fetch(u).fetch(mask).run()) {
        float[] got = new float[n];
        ((TFloat32) r.get(0)).asRawTensor().data().asFloats().read(got);
        assertArrayEquals(want, got);
        float[] m = new float[n];
        ((TFloat32) r.get(1)).asRawTensor().data().asFloats().read(m);
        double kept = 0;
        for (int i = 0; i < n; i++) {
          assertEquals(Math.floor(0.75f + want[i]), m[i], 0.0, "mask " + i);
          kept += m[i];
        }
        // Binomial(4000, 0.75): sd ~ 27 examples, so +-4 sd is +-0.027.
        assertEquals(0.75, kept / n, 0.027);
      }
    }
  }
}
