package org.nfnet.training;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.training.data.FixedBatchInput;
import org.nfnet.zoo.NFNetConfig;

/** Short names for this package's tests; the fixtures are located by {@link SharedFixtures}. */
final class Fixtures {
  private Fixtures() {}

  static Path shared() {
    return SharedFixtures.dir();
  }

  static Path t0() {
    return SharedFixtures.t0();
  }

  static JsonNode reference() {
    return SharedFixtures.reference();
  }

  /** The tiny T0 variant of the fixtures (10 classes, train size 64). */
  static NFNetConfig t0Config() {
    return SharedFixtures.t0Config();
  }

  static float[] floats(Path file) {
    return SharedFixtures.floats(file);
  }

  /**
   * DeepMind's one SGD+AGC step of the T0 fixture ({@code reference.json} "train_step").
   *
   * @param ref the step's record: hyper-parameters, loss, new parameter sums/norms/heads
   * @param weights the weights the step starts from
   * @param input its batch
   * @param optimizer its momentum, Nesterov, weight decay, clipping and eps (DeepMind's groups)
   */
  record DeepMindStep(JsonNode ref, Path weights, NFNetConfig config, FixedBatchInput input,
      OptimizerConfig optimizer) {
    double lr() {
      return ref.get("lr").asDouble();
    }

    double labelSmoothing() {
      return ref.get("label_smoothing").asDouble();
    }
  }

  /** The T0 train step; the test is skipped when the fixture weights are missing. */
  static DeepMindStep deepMindStep() {
    JsonNode ts = reference().get("train_step");
    Path weights = t0().resolve(ts.get("weights").asText());
    Assumptions.assumeTrue(Files.exists(weights), "fixture weights missing");
    NFNetConfig config = t0Config();
    int n = ts.get("batch").asInt();
    int res = ts.get("res").asInt();
    float[] images = floats(t0().resolve(ts.get("input").asText()));
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = ts.get("labels").get(i).asInt();
    }
    OptimizerConfig opt = new OptimizerConfig(ts.get("momentum").asDouble(),
        ts.get("nesterov").asBoolean(), ts.get("weight_decay").asDouble(),
        ts.get("clipping").asDouble(), ts.get("eps").asDouble(), ParameterGroups.deepMind(),
        OptimizerConfig.deepMind().clippedGroups(), OptimizerConfig.deepMind().decayedGroups());
    return new DeepMindStep(ts, weights, config,
        new FixedBatchInput(images, labels, res, res, config.numClasses()), opt);
  }
}
