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
