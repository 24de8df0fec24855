package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** AGC on hand-computed small tensors, unit definitions per rank, and the group rules. */
class AdaptiveGradientClippingTest {

  @Test
  void unitAxesPerRank() {
    assertNull(AdaptiveGradientClipping.unitAxes(new long[0]));
    assertNull(AdaptiveGradientClipping.unitAxes(new long[] {7}));
    assertNull(AdaptiveGradientClipping.unitAxes(new long[] {1, 7}), "squeezed vector");
    assertArrayEquals(new int[] {0}, AdaptiveGradientClipping.unitAxes(new long[] {3, 2}));
    assertArrayEquals(new int[] {0, 1, 2}, AdaptiveGradientClipping.unitAxes(new long[] {3, 3, 4, 5}));
    assertEquals(2, AdaptiveGradientClipping.unitCount(new long[] {3, 2}));
    assertEquals(5, AdaptiveGradientClipping.unitCount(new long[] {3, 3, 4, 5}));
    assertEquals(1, AdaptiveGradientClipping.unitCount(new long[] {7}));
  }

  /**
   * Runs clip on constant tensors; returns [clipped grad..., clipped unit count]. Both norm
   * formulations (EuclideanNorm, and square-then-sum as XLA steps use) must agree.
   */
  static float[] clip(long[] shape, float[] w, float[] g, float clipping, float eps) {
    float[] fused = clip(shape, w, g, clipping, eps, true);
    assertArrayEquals(fused, clip(shape, w, g, clipping, eps, false), 1e-6f,
        "EuclideanNorm vs square-then-sum");
    return fused;
  }

  static float[] clip(long[] shape, float[] w, float[] g, float clipping, float eps,
      boolean fusedNorms) {
    try (Graph graph = new Graph(); Session s = new Session(graph)) {
      Ops tf = Ops.create(graph);
      var wt = tf.constant(Shape.of(shape), DataBuffers.of(w));
      var gt = tf.constant(Shape.of(shape), DataBuffers.of(g));
      var c = AdaptiveGradientClipping.clip(tf, gt, wt, shape, clipping, eps, fusedNorms);
      try (Result r = s.runner().fetch(c.grad()).fetch(c.clippedUnits()).run()) {
        TFloat32 out = (TFloat32) r.get(0);
        float[] res = new float[g.length + 1];
        out.asRawTensor().data().asFloats().read(res, 0, g.length);
        res[g.length] = ((TFloat32) r.get(1)).getFloat();
        return res;
      }
    }
  }

  @Test
  void linearWeightClipsPerOutputColumn() {
    // W [in=2, out=2]: column 0 = (3, 4) (norm 5), column 1 = (0, 1) (norm 1).
    float[] w = {3, 0, 4, 1};
    // g column 0 = (0.3, 0.4) (norm 0.5 > 0.1 * 5 = 0.5? no: equal, not clipped);
    // g column 1 = (0.6, 0.8) (norm 1.0 > 0.1 * 1 = 0.1: scaled by 0.1).
    float[] g = {0.3f, 0.6f, 0.4f, 0.8f};
    float[] r = clip(new long[] {2, 2}, w, g, 0.1f, 1e-3f);
    assertArrayEquals(new float[] {0.3f, 0.06f, 0.4f, 0.08f, 1f}, r, 1e-7f);
  }

  @Test
  void convKernelUnitsAreOutputChannels() {
    // HWIO [1, 1, 2, 2]: same numbers as above laid out with I = rows, O = columns.
    float[] w = {3, 0, 4, 1};
    float[] g = {0.3f, 0.6f, 0.4f, 0.8f};
    float[] r = clip(new long[] {1, 1, 2, 2}, w, g, 0.1f, 1e-3f);
    assertArrayEquals(new float[] {0.3f, 0.06f, 0.4f, 0.08f, 1f}, r, 1e-7f);
  }

  @Test
  void vectorsUseOneNormAndEpsFloor() {
    // Zero-initialised bias: ||W|| = 0 -> max(0, eps=1e-3) * 0.01 = 1e-5; ||g|| = 5 -> g * 1e-5 / 5.
    float[] w = {0, 0};
    float[] g = {3, 4};
    float[] r = clip(new long[] {2}, w, g, 0.01f, 1e-3f);
    assertArrayEquals(new float[] {6e-6f, 8e-6f, 1f}, r, 1e-12f);
    // Scalar skip_gain 0.5, grad 0.001 < 0.01 * 0.5: untouched.
    float[] s = clip(new long[0], new float[] {0.5f}, new float[] {0.001f}, 0.01f, 1e-3f);
    assertArrayEquals(new float[] {0.001f, 0f}, s, 0f);
  }

  /**
   * AGC as a gradient transformation in front of another optimizer (plain gradient descent, lr 1):
   * the selected parameter's gradient is clipped per unit, the other one passes through unchanged.
   */
  @Test
  void transformationFeedsAnyOptimizer() {
    ParameterSpec hidden = spec("NFNet/~/stem_conv0", "w", 2, 2);
    ParameterSpec head = spec("NFNet/~/linear", "w", 2, 2);
    AdaptiveGradientClipping agc = new AdaptiveGradientClipping(0.1, 1e-3, p -> p == hidden);
    try (Graph graph = new Graph(); Session s = new Session(graph)) {
      Ops tf = Ops.create(graph);
      var w1 = tf.variable(tf.constant(Shape.of(2, 2), DataBuffers.of(new float[] {3, 0, 4, 1})));
      var w2 = tf.variable(tf.constant(Shape.of(2, 2), DataBuffers.of(new float[] {3, 0, 4, 1})));
      var g = tf.constant(Shape.of(2, 2), DataBuffers.of(new float[] {0.3f, 0.6f, 0.4f, 0.8f}));
      var r = agc.apply(tf, java.util.List.of(hidden, head), java.util.List.of(g, g),
          java.util.List.of(tf.identity(w1), tf.identity(w2)));
      org.junit.jupiter.api.Assertions.assertSame(g, r.grads().get(1), "head not clipped");
      org.junit.jupiter.api.Assertions.assertNull(r.stats().get(1));
      var one = tf.constant(1f);
      var u1 = tf.train.applyGradientDescent(w1, one, r.grads().get(0));
      var u2 = tf.train.applyGradientDescent(w2, one, r.grads().get(1));
      try (Result res = s.runner().fetch(u1).fetch(u2).fetch(r.stats().get(0).clippedUnits())
          .run()) {
        float[] a = new float[4];
        float[] b = new float[4];
        ((TFloat32) res.get(0)).asRawTensor().data().asFloats().read(a);
        ((TFloat32) res.get(1)).asRawTensor().data().asFloats().read(b);
        // Column 1 of the gradient (0.6, 0.8) is scaled to (0.06, 0.08); column 0 is at the limit.
        assertArrayEquals(new float[] {2.7f, -0.06f, 3.6f, 0.92f}, a, 1e-6f);
        assertArrayEquals(new float[] {2.7f, -0.6f, 3.6f, 0.2f}, b, 1e-6f);
        assertEquals(1f, ((TFloat32) res.get(2)).getFloat());
      }
    }
  }

  @Test
  void deepMindGroups() {
    ParameterGroups g = ParameterGroups.deepMind();
    assertEquals(ParameterGroup.CLASSIFIER, g.groupOf(spec("NFNet/~/linear", "w", 256, 10)));
    assertEquals(ParameterGroup.GAINS_BIASES, g.groupOf(spec("NFNet/~/linear", "b", 10)));
    assertEquals(ParameterGroup.WEIGHTS,
        g.groupOf(spec("NFNet/~/nf_block/~/squeeze_excite/~/linear", "w", 4, 2)));
    assertEquals(ParameterGroup.GAINS_BIASES,
        g.groupOf(spec("NFNet/~/nf_block/~/squeeze_excite/~/linear_1", "b", 4)));
    assertEquals(ParameterGroup.GAINS_BIASES, g.groupOf(spec("NFNet/~/nf_block_3", "skip_gain")));
    assertEquals(ParameterGroup.GAINS_BIASES, g.groupOf(spec("NFNet/~/stem_conv0", "gain", 16)));
    assertEquals(ParameterGroup.GAINS_BIASES, g.groupOf(spec("NFNet/~/stem_conv0", "bias", 16)));
    assertEquals(ParameterGroup.WEIGHTS, g.groupOf(spec("NFNet/~/stem_conv0", "w", 3, 3, 3, 16)));
    OptimizerConfig c = OptimizerConfig.deepMind();
    assertEquals(java.util.Set.of(ParameterGroup.WEIGHTS, ParameterGroup.GAINS_BIASES),
        c.clippedGroups());
    assertEquals(java.util.Set.of(ParameterGroup.WEIGHTS, ParameterGroup.CLASSIFIER),
        c.decayedGroups());
  }

  static ParameterSpec spec(String module, String name, long... shape) {
    return new ParameterSpec(module, name, shape);
  }
}
