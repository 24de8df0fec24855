package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.WeightFileReader;
import org.nfnet.training.data.FixedBatchInput;
import org.nfnet.training.resource.ResourceTrainStep;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * The resource-variable training step reproduces DeepMind's SGD+AGC step of the T0 fixture, and
 * resumes from its own checkpoint bit for bit.
 */
class ResourceTrainStepTest {

  @Test
  void reproducesDeepMindTrainStep() throws Exception {
    Fixtures.DeepMindStep dm = Fixtures.deepMindStep();
    JsonNode ts = dm.ref();
    NFNetConfig config = dm.config();
    var c = new ResourceTrainStep.Config(dm.optimizer(), LearningRateSchedule.constant(dm.lr()),
        dm.labelSmoothing(), 0, false, 0L, false);
    Map<String, Double> worst = new HashMap<>();
    try (ResourceTrainStep step = ResourceTrainStep.create(config, dm.input(), c);
        HaikuParams hp = WeightFileReader.read(dm.weights())) {
      step.initialize();
      List<TFloat32> fed = new ArrayList<>();
      step.loadParameters(spec -> {
        TFloat32 t = TFloat32.tensorOf(Shape.of(spec.shape()),
            DataBuffers.of(hp.get(spec.haikuKey()).toFloatBuffer()));
        fed.add(t);
        return t;
      });
      fed.forEach(TFloat32::close);
      ResourceTrainStep.Metrics m = step.run();
      assertEquals(0L, m.step());
      double refLoss = ts.get("loss").asDouble();
      TrainStepParityTest.record(worst, "loss", Math.abs(m.loss() - refLoss) / refLoss);
      JsonNode ref = ts.get("params");
      List<String> names = new ArrayList<>();
      List<String> keys = new ArrayList<>();
      step.state().parameters().entries().forEach(e -> {
        names.add(e.variable().name());
        keys.add(e.spec().haikuKey());
      });
      assertEquals(ref.size(), names.size(), "every parameter is updated");
      Map<String, float[]> after = step.values(names);
      for (int i = 0; i < names.size(); i++) {
        JsonNode p = ref.get(keys.get(i));
        float[] v = after.get(names.get(i));
        double sum = 0;
        double absSum = 0;
        for (float x : v) {
          sum += x;
          absSum += Math.abs(x);
        }
        TrainStepParityTest.record(worst, "new_param_sum",
            TrainStepParityTest.rel(sum, p.get("new_param_sum").asDouble(), 1e-3 * absSum));
        TrainStepParityTest.record(worst, "new_param_head",
            TrainStepParityTest.headErr(v, p.get("new_param_head")));
      }
    }
    System.out.println("resource step vs DeepMind: " + worst);
    worst.forEach((k, e) -> assertTrue(e <= TrainStepParityTest.TOL, k + " max rel err " + e));
  }

  /** T0 at 32 px on a fixed random batch; regularised (int32-seeded masks) with EMA. */
  static ResourceTrainStep t0Step(boolean xla) {
    NFNetConfig t0 = Fixtures.t0Config();
    int n = 4;
    int res = 32;
    float[] images = new float[n * res * res * 3];
    Random r = new Random(11);
    for (int i = 0; i < images.length; i++) {
      images[i] = (float) r.nextGaussian();
    }
    return ResourceTrainStep.create(t0, new FixedBatchInput(images, new int[] {1, 7, 3, 7}, res,
        res, t0.numClasses()), new ResourceTrainStep.Config(OptimizerConfig.deepMind(),
        new LearningRateSchedule.WarmupCosineDecay(0, 0, 0.4, 20, 2), 0.1, 0.9, true, 3L, xla));
  }

  @Test
  void resumeFromCheckpointIsBitIdentical(@TempDir Path dir) {
    String prefix = dir.resolve("ckpt/variables").toString();
    List<Float> straight = new ArrayList<>();
    Map<String, float[]> end;
    List<String> names = new ArrayList<>();
    try (ResourceTrainStep s = t0Step(false)) {
      s.state().all().all().stream().filter(v -> v.type() == TFloat32.class)
          .map(ResourceVariables.Variable::name).forEach(names::add);
      s.initialize();
      s.run();
      s.run();
      s.save(prefix);
      for (int i = 0; i < 3; i++) {
        straight.add(s.run().loss());
      }
      end = s.values(names);
    }
    try (ResourceTrainStep s = t0Step(false)) {
      s.restore(prefix);
      List<Float> resumed = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        ResourceTrainStep.Metrics m = s.run();
        assertEquals(2L + i, m.step());
        resumed.add(m.loss());
      }
      assertEquals(straight, resumed);
      Map<String, float[]> got = s.values(names);
      end.forEach((k, v) -> assertArrayEquals(v, got.get(k), k));
    }
    // The losses moved: the step trains (and masks/LR depend on the restored step).
    assertTrue(!straight.get(0).equals(straight.get(2)), straight.toString());
  }
}
