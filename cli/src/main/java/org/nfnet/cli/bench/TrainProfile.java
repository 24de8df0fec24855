package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nfnet.training.TrainStep;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Result;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;

/**
 * Where a training step's time goes (section {@code train-profile}, not in the default set): the
 * same step as {@link TrainingBench} (train size, batch 8), float32 and bf16, run with
 * {@code RunOptions.FULL_TRACE}; kernel time is summed per op type over {@code --repeats} steps
 * and reported per step with its share. The trace adds overhead and the two inter-op threads
 * overlap kernels, so shares, not absolute times, are the point: they name the kernels worth
 * attacking (BENCHMARKS.md, "Where the time goes").
 */
final class TrainProfile {
  private static final int TOP = 15;

  private TrainProfile() {}

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    NFNetConfig c = s.config();
    int res = c.trainImsize();
    ObjectNode r = BenchSections.JSON.createObjectNode();
    StringBuilder summary = new StringBuilder();
    RunOptions trace = RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
    int steps = Math.max(1, s.repeats());
    for (boolean bf16 : new boolean[] {false, true}) {
      String key = bf16 ? "bf16" : "fp32";
      try (TrainStep step = TrainingBench.newStep(c, res, bf16)) {
        step.initialize();
        for (int i = 0; i < s.warmup(); i++) {
          step.run(false);
        }
        Map<String, long[]> byType = new HashMap<>(); // op type -> {micros, kernels}
        Map<String, long[]> byPhase = new HashMap<>(); // phase -> {micros, kernels}
        long total = 0;
        for (int i = 0; i < steps; i++) {
          try (Result out = step.session().runner().addTarget(step.trainOp()).setOptions(trace)
              .runAndFetchMetadata()) {
            RunMetadata md = out.getMetadata().orElseThrow();
            for (DeviceStepStats d : md.getStepStats().getDevStatsList()) {
              for (NodeExecStats n : d.getNodeStatsList()) {
                long us = n.getAllEndRelMicros();
                count(byType, opType(n.getTimelineLabel()), us);
                count(byPhase, phase(n.getNodeName()), us);
                total += us;
              }
            }
          }
        }
        ObjectNode ops = r.putObject(key + "_ms_per_step_by_op");
        long all = total;
        summary.append(String.format(Locale.ROOT, "%s %s training step @%dpx batch %d: %.0f ms of"
            + " kernel time per step (FULL_TRACE, %d steps)%n", c.name(), key, res,
            TrainingBench.BATCH, all / 1e3 / steps, steps));
        List<Map.Entry<String, long[]>> types = slowestFirst(byType);
        types.forEach(e -> ops.put(e.getKey(), e.getValue()[0] / 1e3 / steps));
        types.stream().limit(TOP).forEach(e -> summary.append(String.format(Locale.ROOT,
            "  %-44s %8.1f ms %5.1f%%  (%d kernels)%n", e.getKey(), e.getValue()[0] / 1e3 / steps,
            100.0 * e.getValue()[0] / all, e.getValue()[1] / steps)));
        ObjectNode phases = r.putObject(key + "_ms_per_step_by_phase");
        summary.append("  by phase:");
        slowestFirst(byPhase).forEach(e -> {
          phases.put(e.getKey(), e.getValue()[0] / 1e3 / steps);
          summary.append(String.format(Locale.ROOT, " %s %.0f ms (%.1f%%);", e.getKey(),
              e.getValue()[0] / 1e3 / steps, 100.0 * e.getValue()[0] / all));
        });
        summary.append(System.lineSeparator());
      }
    }
    r.put("summary", summary.toString().stripTrailing());
    return r;
  }

  /** Adds one kernel of {@code micros} to {@code key}'s {micros, kernels}. */
  private static void count(Map<String, long[]> totals, String key, long micros) {
    long[] v = totals.computeIfAbsent(key, k -> new long[2]);
    v[0] += micros;
    v[1]++;
  }

  private static List<Map.Entry<String, long[]>> slowestFirst(Map<String, long[]> totals) {
    return totals.entrySet().stream()
        .sorted((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0])).toList();
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

  /** Op type from a step-stats timeline label ({@code "name = Type(inputs)"}). */
  static String opType(String label) {
    int eq = label.indexOf(" = ");
    String t = eq < 0 ? label : label.substring(eq + 3);
    int paren = t.indexOf('(');
    return paren < 0 ? t : t.substring(0, paren);
  }
}
