package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.savedmodel.LoadTimeFreezing;
import org.nfnet.savedmodel.ResourceSavedModel;
import org.nfnet.training.ExponentialMovingAverage;
import org.nfnet.training.LearningRateSchedule;
import org.nfnet.training.StepConfig;
import org.nfnet.training.StepSession;
import org.nfnet.training.TrainStep;
import org.nfnet.training.data.FedInput;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The training step ({@link TrainStep}, resource variables) exported as a SavedModel with a {@code train_step} signature
 * keeps training after a load: the loaded signature continues from the exported global step on
 * exactly the losses the exporting session gets (T0, stochastic depth and dropout on, EMA).
 */
class TrainableSavedModelTest {
  private static final int B = 4;
  private static final int R = 32;

  @Test
  void loadedTrainStepContinuesTheRun(@TempDir Path dir) throws Exception {
    NFNetConfig t0 = NFNetConfig.resolve("../variants/t0.json");
    float[] pixels = new float[B * R * R * 3];
    Random r = new Random(21);
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (float) r.nextGaussian();
    }
    int[] labels = {1, 2, 3, 4};
    FedInput in = new FedInput(t0.numClasses(), B, R);
    StepConfig c = StepConfig.defaults().with(b -> b
        .schedule(new LearningRateSchedule.WarmupCosineDecay(0, 0, 0.4, 20, 2))
        .labelSmoothing(0.1).emaDecay(ExponentialMovingAverage.SHORT_RUN_DECAY).regularize(true)
        .seed(3L));
    List<Float> continued = new ArrayList<>();
    Path export = dir.resolve("export");
    try (TrainStep s = TrainStep.create(t0, in, c);
        TFloat32 x = TFloat32.tensorOf(Shape.of(B, R, R, 3), DataBuffers.of(pixels));
        TInt32 y = TInt32.vectorOf(labels)) {
      Map<String, Operand<?>> outputs = s.trainStepOutputs();
      s.initialize();
      for (int i = 0; i < 2; i++) {
        run(s, in, outputs, x, y);
      }
      ResourceSavedModel.write(s.session(), s.variables(), s.saver(), Map.of("train_step",
              ResourceSavedModel.signature("tensorflow/serving/predict",
                  Map.of("images", in.images(), "labels", in.labels()), outputs)),
          null, List.of("serve", "train"), export);
      for (int i = 0; i < 3; i++) {
        continued.add(run(s, in, outputs, x, y));
      }
    }
    // Loaded with the step's own session options (no constant folding), the export continues the
    // run bit for bit; with TF's defaults, constant folding rounds some constant arithmetic
    // differently (within a float32 ulp, checked below).
    List<Float> loaded = new ArrayList<>();
    try (SavedModelBundle b = SavedModelBundle.loader(export.toString())
            .withTags("serve", "train").withConfigProto(StepSession.config(false)).load();
        TFloat32 x = TFloat32.tensorOf(Shape.of(B, R, R, 3), DataBuffers.of(pixels));
        TInt32 y = TInt32.vectorOf(labels)) {
      try (Result res = b.session().runner().fetch("global_step_snapshot").run()) {
        assertEquals(2L, ((TInt64) res.get(0)).getLong(), "exported at step 2");
      }
      for (int i = 0; i < 3; i++) {
        try (Result res = b.function("train_step").call(Map.of("images", x, "labels", y))) {
          loaded.add(((TFloat32) res.get("loss").get()).getFloat());
        }
      }
      try (Result res = b.session().runner().fetch("global_step_snapshot").run()) {
        assertEquals(5L, ((TInt64) res.get(0)).getLong());
      }
      // A step that updates its variables cannot be frozen into constants: refused, with the reason.
      LoadTimeFreezing.Outcome f = LoadTimeFreezing.freeze(b, null);
      assertFalse(f.frozen(), "a training step must keep its variables");
      assertTrue(f.reason() != null && f.reason().contains("feeds"), f.reason());
    }
    assertEquals(continued, loaded);
    try (SavedModelBundle b = SavedModelBundle.load(export.toString(), "serve", "train");
        TFloat32 x = TFloat32.tensorOf(Shape.of(B, R, R, 3), DataBuffers.of(pixels));
        TInt32 y = TInt32.vectorOf(labels)) {
      for (int i = 0; i < 3; i++) {
        try (Result res = b.function("train_step").call(Map.of("images", x, "labels", y))) {
          float l = ((TFloat32) res.get("loss").get()).getFloat();
          assertEquals(continued.get(i), l, 1e-6 * Math.abs(continued.get(i)),
              "default-loaded step " + i);
        }
      }
    }
    // It trains: one batch over and over, the loss falls.
    assertTrue(continued.get(2) < continued.get(0), continued.toString());
  }

  private static float run(TrainStep s, FedInput in, Map<String, Operand<?>> outputs,
      TFloat32 x, TInt32 y) {
    try (Result r = s.session().runner().feed(in.images(), x).feed(in.labels(), y)
        .fetch(outputs.get("loss")).run()) {
      return ((TFloat32) r.get(0)).getFloat();
    }
  }
}
