package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.WeightFileReader;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * Reproduces DeepMind's one SGD+AGC step of the fixture ({@code train_step} in reference.json):
 * eval-mode forward, label smoothing 0.1, lr 0.1, Nesterov momentum 0.9 from zero, wd 2e-5,
 * clipping 0.01, eps 1e-3, weights {@code t0_seed31_p3.pkl} read through the converters' reader.
 *
 * <p>Tolerance: 1e-4 relative. For element values (the 32-value heads) the relative error is
 * measured against {@code max(|ref|, 0.1 * max|head|)}, i.e. elements smaller than a tenth of the
 * largest element of their own head are held to an absolute error of {@code 1e-5 * max|head|}.
 * Why: a gradient entry is a sum of many terms of the head's magnitude, so float32 summation-order
 * noise (TF kernels vs XLA) is absolute, ~1e-7 here, and reaches 1e-4 relative on entries around
 * 1e-3; whole-tensor norms agree to ~1.5e-5. Sums use the floor
 * {@code 1e-3 * sum|new_param|}, norms need none (they are positive and not tiny).
 */
class TrainStepParityTest {
  static final double TOL = 1e-4;
  /** Head elements below this fraction of the head's largest magnitude are compared absolutely. */
  static final double HEAD_FLOOR = 1e-1;

  /**
   * @param recompute with activation recomputation the gradients come from segment-by-segment
   *     backward passes through recomputed blocks: they must still be DeepMind's
   */
  @ParameterizedTest(name = "recompute={0}")
  @ValueSource(booleans = {false, true})
  void reproducesDeepMindTrainStep(boolean recompute) throws Exception {
    Fixtures.DeepMindStep dm = Fixtures.deepMindStep();
    JsonNode ts = dm.ref();
    NFNetConfig config = dm.config();
    StepConfig o = StepConfig.defaults().with(b -> b.optimizer(dm.optimizer())
        .schedule(LearningRateSchedule.constant(dm.lr()))
        .labelSmoothing(dm.labelSmoothing()).regularize(false).emaDecay(0).recompute(recompute));

    Map<String, Double> worst = new HashMap<>();
    long tc = System.nanoTime();
    try (TrainStep step = TrainStep.create(config, dm.input(), o);
        HaikuParams hp = WeightFileReader.read(dm.weights())) {
      long t0 = System.nanoTime();
      System.out.printf("create %.1fs%n", (t0 - tc) / 1e9);
      step.initialize();
      System.out.printf("built+init %.1fs%n", (System.nanoTime() - t0) / 1e9);
      step.loadParameters(spec -> TFloat32.tensorOf(Shape.of(spec.shape()),
          DataBuffers.of(hp.get(spec.haikuKey()).toFloatBuffer())), null);
      step.resetOptimizerState();
      System.out.printf("loaded %.1fs%n", (System.nanoTime() - t0) / 1e9);

      List<String> keys = new ArrayList<>(step.gradients().keySet());
      // Fetch each distinct tensor once (an unclipped gradient is the raw gradient itself).
      var runner = step.session().runner().addTarget(step.trainOp()).fetch(step.loss());
      Map<String, Integer> slot = new HashMap<>();
      int[][] index = new int[keys.size()][3];
      for (int i = 0; i < keys.size(); i++) {
        List<Operand<TFloat32>> ts3 = List.of(step.gradients().get(keys.get(i)),
            step.update().clippedGradients().get(keys.get(i)),
            step.update().newValues().get(keys.get(i)));
        for (int k = 0; k < 3; k++) {
          String name = ts3.get(k).asOutput().name();
          Integer at = slot.get(name);
          if (at == null) {
            at = slot.size() + 1;
            slot.put(name, at);
            runner.fetch(ts3.get(k));
          }
          index[i][k] = at;
        }
      }
      Map<String, float[][]> got = new HashMap<>();
      double loss;
      try (Result r = runner.run()) {
        loss = ((TFloat32) r.get(0)).getFloat();
        for (int i = 0; i < keys.size(); i++) {
          float[][] v = new float[3][];
          for (int k = 0; k < 3; k++) {
            TFloat32 t = (TFloat32) r.get(index[i][k]);
            v[k] = new float[(int) t.size()];
            t.asRawTensor().data().asFloats().read(v[k]);
          }
          got.put(keys.get(i), v);
        }
      }
      double refLoss = ts.get("loss").asDouble();
      record(worst, "loss", Math.abs(loss - refLoss) / Math.abs(refLoss));

      JsonNode ref = ts.get("params");
      assertEquals(ref.size(), keys.size(), "every parameter is updated");
      Map<String, float[]> after = step.weights();
      for (String key : keys) {
        JsonNode p = ref.get(key);
        assertTrue(p != null, "reference has " + key);
        assertEquals(p.get("group").asText(), switch (dm.optimizer().groups().groupOf(
            step.parameters().entry(key).spec())) {
          case WEIGHTS -> "weight";
          case GAINS_BIASES -> "gain_bias";
          case CLASSIFIER -> "fc";
        }, key + " group");
        float[][] v = got.get(key);
        record(worst, "grad_norm", rel(norm(v[0]), p.get("grad_norm").asDouble(), 0));
        record(worst, "clipped_norm", rel(norm(v[1]), p.get("clipped_norm").asDouble(), 0));
        double absSum = 0;
        double sum = 0;
        for (float x : v[2]) {
          sum += x;
          absSum += Math.abs(x);
        }
        record(worst, "new_param_sum", rel(sum, p.get("new_param_sum").asDouble(), 1e-3 * absSum));
        record(worst, "grad_head", headErr(v[0], p.get("grad_head")));
        record(worst, "clipped_grad_head", headErr(v[1], p.get("clipped_grad_head")));
        record(worst, "new_param_head", headErr(v[2], p.get("new_param_head")));
        // The step really assigned the new values.
        float[] a = after.get(key);
        for (int i = 0; i < a.length; i++) {
          assertEquals(v[2][i], a[i], 0f, key + " assigned");
        }
      }
      assertEquals(1L, step.globalStep());
    }
    List<String> lines = new ArrayList<>();
    worst.forEach((k, e) -> lines.add(String.format(Locale.ROOT, "%-18s max rel err %.3g", k, e)));
    lines.sort(null);
    lines.forEach(System.out::println);
    worst.forEach((k, e) -> assertTrue(e <= TOL, k + " max relative error " + e));
  }

  static void record(Map<String, Double> worst, String what, double err) {
    worst.merge(what, err, Math::max);
  }

  static double norm(float[] x) {
    double s = 0;
    for (float v : x) {
      s += (double) v * v;
    }
    return Math.sqrt(s);
  }

  static double rel(double got, double ref, double floor) {
    return got == ref ? 0 : Math.abs(got - ref) / Math.max(Math.max(Math.abs(ref), floor), 1e-30);
  }

  static double headErr(float[] got, JsonNode ref) {
    double scale = 0;
    for (JsonNode r : ref) {
      scale = Math.max(scale, Math.abs(r.asDouble()));
    }
    double worst = 0;
    for (int i = 0; i < ref.size(); i++) {
      worst = Math.max(worst, rel(got[i], ref.get(i).asDouble(), HEAD_FLOOR * scale));
    }
    return worst;
  }
}
