package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import org.nfnet.training.TrainStep;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Result;

/**
 * Where a training step's time goes (section {@code train-profile}, not in the default set): the
 * same step as {@link TrainingBench} (train size, batch 8), float32 and bf16, run with
 * {@code RunOptions.FULL_TRACE}; kernel time is summed per op type over {@code --repeats} steps
 * and reported per step with its share. The trace adds overhead and the two inter-op threads
 * overlap kernels, so shares, not absolute times, are the point: they name the kernels worth
 * attacking (BENCHMARKS.md, "Where the time goes").
 */
final class TrainProfile {
  private TrainProfile() {}

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    NFNetConfig c = s.config();
    int res = c.trainImsize();
    ObjectNode r = BenchSections.JSON.createObjectNode();
    StringBuilder summary = new StringBuilder();
    int steps = Math.max(1, s.repeats());
    for (boolean bf16 : new boolean[] {false, true}) {
      String key = bf16 ? "bf16" : "fp32";
      try (TrainStep step = TrainingBench.newStep(c, res, bf16, false)) {
        step.initialize();
        for (int i = 0; i < s.warmup(); i++) {
          step.run(false);
        }
        KernelTally tally = new KernelTally((name, type) -> phase(name));
        for (int i = 0; i < steps; i++) {
          try (Result out = step.session().runner().addTarget(step.trainOp()).setOptions(KernelTally.TRACE)
              .runAndFetchMetadata()) {
            tally.add(out.getMetadata().orElseThrow());
          }
        }
        tally.report(r, summary, key, "step", "phase", String.format(Locale.ROOT,
            "%s %s training step @%dpx batch %d", c.name(), key, res, TrainingBench.BATCH), steps);
      }
    }
    r.put("summary", summary.toString().stripTrailing());
    return r;
  }

  /**
   * Which part of the step a node belongs to, from its top-level name scope: the forward pass
   * ({@code NFNet/...}), its gradient ({@code gradients/...}), the optimizer (AGC, weight decay,
   * momentum and the assignments), the EMA update, or the rest (input, metrics, step counter).
   */
  static String phase(String nodeName) {
    // TF numbers clashing scopes ("optimizer" is taken by the momentum slots: updates go to
    // "optimizer_1"), so match prefixes.
    if (nodeName.startsWith("NFNet/")) {
      return "forward";
    } else if (nodeName.startsWith("gradients")) {
      return "backward";
    } else if (nodeName.startsWith("optimizer")) {
      return "optimizer";
    } else if (nodeName.startsWith("ema")) {
      return "ema";
    }
    return "other";
  }
}
