package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.WeightFileReader;
import org.nfnet.zoo.NFNetStructure;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * Activation recomputation ({@link ActivationRecomputation}, {@code StepConfig.recompute}).
 * DeepMind's own step with it is checked in {@link TrainStepParityTest}; here the training-mode
 * forward, whose stochastic-depth and dropout masks the recomputed blocks must draw again
 * identically, and the graph property the memory saving rests on.
 */
class ActivationRecomputationTest {

  /**
   * With stochastic depth and dropout on, the gradients through recomputed blocks are the
   * gradients of the one-piece backward pass on DeepMind's T0 weights and batch (which
   * {@link TrainStepParityTest} checks against DeepMind), bit for bit: both steps run the same
   * arithmetic in the same order. A block that drew other masks in its second forward would be
   * off by the size of its branch.
   */
  @Test
  void recomputedBlocksDrawTheSameMasks() throws Exception {
    Fixtures.DeepMindStep dm = Fixtures.deepMindStep();
    StepConfig training = StepConfig.defaults().with(b -> b.emaDecay(0).seed(3));
    Map<String, float[]> plain = gradients(dm, training);
    Map<String, float[]> recomputed = gradients(dm, training.with(b -> b.recompute(true)));
    Map<String, float[]> eval = gradients(dm, training.with(b -> b.regularize(false)));
    double worst = maxRelativeDiff(recomputed, plain, 1);
    double regularization = maxRelativeDiff(eval, plain, 1);
    System.out.printf("recomputed vs one piece: max relative L2 difference %.3g "
        + "(regularization itself moves gradients by up to %.3g)%n", worst, regularization);
    assertTrue(regularization > 1e-2, "the masks change the gradients: " + regularization);
    assertEquals(0.0, worst, "max relative L2 difference");
  }

  /**
   * In bf16 the recomputed blocks' backward passes read their own recomputed bf16 casts (the lean
   * convolution backward keeps a convolution's bf16 kernel and input). Their gradients are still
   * the one-piece bf16 pass's, bit for bit, scalars included. bf16 rounding amplifies any change
   * in the order of float32 arithmetic: when Grappler regrouped the two constant factors of a
   * kernel's scale in one step and not in the other, the gradients were up to 1.4% apart (see
   * {@code FusedWeightStandardization.scale}). Casts of another segment or miswired reads would
   * move them by their own size.
   */
  @Test
  void bf16RecomputedBlocksGiveTheOnePieceGradientsBitForBit() throws Exception {
    Fixtures.DeepMindStep dm = Fixtures.deepMindStep();
    StepConfig training = StepConfig.defaults().with(b -> b.emaDecay(0).seed(3).bf16(true));
    Map<String, float[]> plain = gradients(dm, training);
    Map<String, float[]> recomputed = gradients(dm, training.with(b -> b.recompute(true)));
    Map<String, float[]> fp32 = gradients(dm, training.with(b -> b.bf16(false)));
    double worst = maxRelativeDiff(recomputed, plain, 1);
    // Scalars (skip gains) are sums with cancellations, left out as in LeanWSConv2DTest.
    double precision = maxRelativeDiff(fp32, plain, 2);
    System.out.printf("bf16 recomputed vs one piece: max relative L2 difference %.3g "
        + "(bf16 against float32: %.3g)%n", worst, precision);
    assertTrue(precision > 1e-2, "the step runs in bf16: " + precision + " from float32");
    assertEquals(0.0, worst, "max relative L2 difference");
  }

  /**
   * The forward pass does not wait for any recomputed op (none is an ancestor of the loss), and
   * each recomputed segment (the stem, every block) starts from a copy of its input that waits
   * for the gradient of the segment's output: that is what lets its activations be freed.
   */
  @Test
  void recomputedSegmentsRunOnlyInTheBackwardPass() {
    var config = Fixtures.t0Config();
    Fixtures.DeepMindStep dm = Fixtures.deepMindStep();
    try (TrainStep step = TrainStep.create(config, dm.input(),
        StepConfig.defaults().with(b -> b.recompute(true)))) {
      Set<String> ancestors = ancestors((GraphOperation) step.loss().op());
      List<String> inForward = ancestors.stream().filter(n -> n.startsWith("recompute_")).toList();
      assertEquals(List.of(), inForward, "recomputed ops the loss depends on");
      int segments = 1 + NFNetStructure.blocks(config).size();
      for (int k = 0; k < segments; k++) {
        GraphOperation input = step.graph().operation("recompute_" + k + "/input");
        assertTrue(input != null, "segment " + k + " is recomputed");
        List<String> controls = new ArrayList<>();
        for (var c : input.controlInputs()) {
          controls.add(c.name());
        }
        assertEquals(1, controls.size(), "segment " + k + " waits for one tensor: " + controls);
        assertTrue(controls.get(0).startsWith("gradients"),
            "segment " + k + " waits for a gradient, not " + controls.get(0));
      }
      assertEquals(null, step.graph().operation("recompute_" + segments + "/input"),
          "the head is not recomputed");
    }
  }

  private static Map<String, float[]> gradients(Fixtures.DeepMindStep dm, StepConfig c)
      throws Exception {
    try (TrainStep step = TrainStep.create(dm.config(), dm.input(), c);
        HaikuParams hp = WeightFileReader.read(dm.weights())) {
      step.initialize();
      step.loadParameters(spec -> TFloat32.tensorOf(Shape.of(spec.shape()),
          DataBuffers.of(hp.get(spec.haikuKey()).toFloatBuffer())), null);
      List<String> keys = new ArrayList<>(step.gradients().keySet());
      var runner = step.session().runner();
      for (String k : keys) {
        runner.fetch(step.gradients().get(k));
      }
      Map<String, float[]> out = new LinkedHashMap<>();
      try (Result r = runner.run()) {
        for (int i = 0; i < keys.size(); i++) {
          TFloat32 t = (TFloat32) r.get(i);
          float[] v = new float[(int) t.size()];
          t.asRawTensor().data().asFloats().read(v);
          out.put(keys.get(i), v);
        }
      }
      return out;
    }
  }

  /** Max of {@link #relativeDiff} over the parameters with at least {@code minSize} entries. */
  private static double maxRelativeDiff(Map<String, float[]> a, Map<String, float[]> b,
      int minSize) {
    double worst = 0;
    for (String key : b.keySet()) {
      if (b.get(key).length >= minSize) {
        worst = Math.max(worst, relativeDiff(a.get(key), b.get(key)));
      }
    }
    return worst;
  }

  /** ||a - b|| / ||b||. */
  private static double relativeDiff(float[] a, float[] b) {
    double d = 0;
    double n = 0;
    for (int i = 0; i < a.length; i++) {
      d += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
      n += (double) b[i] * b[i];
    }
    return Math.sqrt(d / Math.max(n, 1e-30));
  }

  /** Names of every op {@code op} depends on through data or control edges. */
  private static Set<String> ancestors(GraphOperation op) {
    Set<String> seen = new HashSet<>();
    Deque<GraphOperation> todo = new ArrayDeque<>(List.of(op));
    while (!todo.isEmpty()) {
      GraphOperation o = todo.pop();
      if (!seen.add(o.name())) {
        continue;
      }
      for (int i = 0; i < o.numInputs(); i++) {
        todo.push((GraphOperation) o.input(i).op());
      }
      for (var c : o.controlInputs()) {
        todo.push((GraphOperation) c);
      }
    }
    return seen;
  }
}
