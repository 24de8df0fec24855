package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.training.data.FixedBatchInput;
import org.nfnet.training.resource.ResourceTrainStep;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.types.TFloat32;

/**
 * A checkpoint of today's {@link TrainStep} (VariableV2 parameters, momentum slots, EMA and
 * global step, written by {@code Session.save}) restores into the resource-variable step under the
 * same keys: every variable bit for bit, the step count, and training continues on the same loss
 * curve as the VariableV2 step (eval-mode forward: the two steps draw their masks differently).
 */
class ResourceMigrationTest {

  @Test
  void trainStepCheckpointsRestoreIntoResourceVariables(@TempDir Path dir) {
    NFNetConfig t0 = Fixtures.t0Config();
    int n = 4;
    int res = 32;
    float[] images = new float[n * res * res * 3];
    Random r = new Random(17);
    for (int i = 0; i < images.length; i++) {
      images[i] = (float) r.nextGaussian();
    }
    int[] labels = {2, 5, 5, 9};
    LearningRateSchedule lr = new LearningRateSchedule.WarmupCosineDecay(0, 0, 0.4, 20, 2);
    String prefix = dir.resolve("v2/variables").toString();
    Map<String, float[]> saved = new LinkedHashMap<>();
    List<Double> continued = new ArrayList<>();
    StepConfig o = StepConfig.defaults().with(b -> b.schedule(lr).regularize(false).emaDecay(0.9));
    try (TrainStep s = TrainStep.create(t0, new FixedBatchInput(images, labels, res, res,
        t0.numClasses()), o)) {
      s.initialize();
      s.run(false);
      s.run(false);
      s.session().save(prefix);
      Map<String, float[]> w = s.weights();
      Map<String, float[]> ema = s.evalWeights();
      s.parameters().entries().forEach(e -> {
        saved.put(e.spec().tfName(), w.get(e.spec().haikuKey()));
        saved.put("ema/" + e.spec().tfName(), ema.get(e.spec().haikuKey()));
      });
      for (int i = 0; i < 3; i++) {
        continued.add(s.run(false).loss());
      }
    }
    var c = new ResourceTrainStep.Config(o.optimizer(), lr, o.labelSmoothing(), o.emaDecay(),
        false, o.seed(), false);
    try (ResourceTrainStep s = ResourceTrainStep.create(t0, new FixedBatchInput(images, labels,
        res, res, t0.numClasses()), c)) {
      s.restore(prefix);
      Map<String, float[]> got = s.values(new ArrayList<>(saved.keySet()));
      saved.forEach((k, v) -> assertArrayEquals(v, got.get(k), k));
      List<String> slots = s.state().momentum().values().stream()
          .map(ResourceVariables.Variable::name).toList();
      assertEquals(saved.size() / 2, slots.size());
      for (int i = 0; i < 3; i++) {
        ResourceTrainStep.Metrics m = s.run();
        assertEquals(2L + i, m.step());
        assertEquals(continued.get(i), m.loss(), 1e-6 * continued.get(i), "loss of step " + (2 + i));
      }
    }
  }
}
