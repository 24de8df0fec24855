package org.nfnet.zoo.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * The fused (batch-norm) standardization against the element-wise form: values and the
 * gradients w.r.t. kernel and gain, for kernels shaped like NFNet's 3x3 grouped, 1x1 and stem
 * convolutions, with a non-zero mean so that centring matters.
 */
class FusedWeightStandardizationTest {

  @Test
  void availableOnThisCpuOnlyBuild() {
    assertTrue(FusedWeightStandardization.supported());
  }

  @Test
  void matchesElementWiseFormAndItsGradient() {
    long[][] shapes = {{3, 3, 16, 24}, {1, 1, 64, 8}, {3, 3, 3, 16}};
    for (long[] shape : shapes) {
      double[] err = compare(shape, 7 + shape[2]);
      System.out.printf("%s: w_hat %.2e, d/dw %.2e, d/dgain %.2e%n", Shape.of(shape), err[0],
          err[1], err[2]);
      // Forward: float32 rounding of two formulas (different reduction order).
      assertTrue(err[0] < 2e-6, "forward rel err " + err[0] + " for " + Shape.of(shape));
      // Gradients: a sum of fan_in terms each side; 1e-5 of the largest entry.
      assertTrue(err[1] < 1e-5, "kernel grad rel err " + err[1] + " for " + Shape.of(shape));
      assertTrue(err[2] < 1e-5, "gain grad rel err " + err[2] + " for " + Shape.of(shape));
    }
  }

  /** {max rel err of w_hat, of d/dw, of d/dgain}, each relative to the largest magnitude. */
  private static double[] compare(long[] shape, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int n = (int) (shape[0] * shape[1] * shape[2] * shape[3]);
    int out = (int) shape[3];
    float[] w = new float[n];
    float[] r = new float[n];
    for (int i = 0; i < n; i++) {
      w[i] = (float) (0.3 + 0.05 * rnd.nextGaussian());
      r[i] = (float) rnd.nextGaussian();
    }
    float[] gain = new float[out];
    for (int i = 0; i < out; i++) {
      gain[i] = (float) (1 + 0.5 * rnd.nextGaussian());
    }
    long fanIn = shape[0] * shape[1] * shape[2];
    try (Graph g = new Graph(); Session s = new Session(g);
        TFloat32 wt = TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(w));
        TFloat32 rt = TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(r));
        TFloat32 gt = TFloat32.tensorOf(Shape.of(out), DataBuffers.of(gain))) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> wp = tf.placeholder(TFloat32.class);
      Operand<TFloat32> gp = tf.placeholder(TFloat32.class);
      Operand<TFloat32> rp = tf.placeholder(TFloat32.class);
      Operand<TFloat32> plain = WSConv2D.standardize(tf, wp, gp, fanIn);
      Operand<TFloat32> fused = FusedWeightStandardization.kernel(tf,
          FusedWeightStandardization.batchNorm(tf, wp,
              FusedWeightStandardization.scale(tf, gp, 1f, fanIn), fanIn), wp);
      Output<?>[] dPlain = g.addGradients("plain",
          new Output<?>[] {tf.sum(tf.math.mul(plain, rp), tf.constant(new int[] {0, 1, 2, 3})).asOutput()},
          new Output<?>[] {wp.asOutput(), gp.asOutput()}, null);
      Output<?>[] dFused = g.addGradients("fused",
          new Output<?>[] {tf.sum(tf.math.mul(fused, rp), tf.constant(new int[] {0, 1, 2, 3})).asOutput()},
          new Output<?>[] {wp.asOutput(), gp.asOutput()}, null);
      try (Result res = s.runner().feed(wp, wt).feed(gp, gt).feed(rp, rt)
          .fetch(plain).fetch(fused).fetch(dPlain[0]).fetch(dFused[0]).fetch(dPlain[1])
          .fetch(dFused[1]).run()) {
        return new double[] {relErr(res, 0, 1), relErr(res, 2, 3), relErr(res, 4, 5)};
      }
    }
  }

  private static double relErr(Result res, int a, int b) {
    float[] x = floats((TFloat32) res.get(a));
    float[] y = floats((TFloat32) res.get(b));
    assertEquals(x.length, y.length);
    double max = 0;
    double diff = 0;
    for (int i = 0; i < x.length; i++) {
      max = Math.max(max, Math.abs(x[i]));
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    return diff / max;
  }

  private static float[] floats(TFloat32 t) {
    float[] v = new float[(int) t.size()];
    t.asRawTensor().data().asFloats().read(v);
    return v;
  }
}
