package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import org.nfnet.training.ExponentialMovingAverage;
import org.nfnet.training.TrainState;
import org.nfnet.training.TrainStep;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.GraphOperation;
import org.tensorflow.Session;
import org.tensorflow.proto.AllocatorMemoryUsed;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunMetadata;

/**
 * Section {@code train-memory} (not in the default set): where the memory of one F0 training
 * process goes, phase by phase, for the {@link TrainingBench} step (train size, batch 8; float32,
 * or bf16 convolutions when the environment has {@code NFNET_BENCH_BF16=1}; with activation
 * recomputation when it has {@code NFNET_BENCH_RECOMPUTE=1}).
 *
 * <p>Method: resident memory (VmRSS) of this process after each phase, and the peak (VmHWM) of
 * single steps, the peak being reset before each measured run by writing 5 to
 * {@code /proc/self/clear_refs} (Linux 4.0+), so that a step's own peak is seen even after earlier
 * peaks. Variables are also counted exactly from the graph's variable ops (shape x dtype),
 * split by scope into weights, optimizer slots (momentum) and EMA (checked against 4 bytes x
 * 71.5M parameters for F0). Last, TF's own count of live bytes from one traced step's stats
 * ({@code RunOptions.FULL_TRACE}), so that the resident set can be set against what TF uses.
 */
final class TrainMemory {
  private TrainMemory() {}

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    NFNetConfig c = s.config();
    int res = c.trainImsize();
    boolean bf16 = "1".equals(System.getenv("NFNET_BENCH_BF16"));
    boolean recompute = "1".equals(System.getenv("NFNET_BENCH_RECOMPUTE"));
    // Without the EMA the step does the work of PyTorch's plain SGD step.
    boolean ema = !"0".equals(System.getenv("NFNET_BENCH_EMA"));
    ObjectNode r = BenchSections.JSON.createObjectNode();
    StringBuilder sum = new StringBuilder(String.format(Locale.ROOT,
        "%s %s training step%s @%dpx batch %d, memory by phase (MB; RSS deltas, peaks reset per "
            + "run through /proc/self/clear_refs)%n", c.name(), bf16 ? "bf16" : "fp32",
        (recompute ? " with activation recomputation" : "") + (ema ? "" : " without EMA"), res,
        TrainingBench.BATCH));
    // TF's native library is loaded by the first graph; measure the runtime with an empty one.
    try (Graph g = new Graph(); Session unused = new Session(g)) {
      // loads the native library and its thread pools
    }
    double runtime = mb(Memory.rssBytes());
    line(r, sum, "runtime", "JVM + TensorFlow runtime, before the graph", runtime);
    long t0 = System.nanoTime();
    double processPeak;
    try (TrainStep step = TrainingBench.newStep(c, res, bf16, recompute, ema)) {
      double graph = mb(Memory.rssBytes());
      line(r, sum, "graph",
          "graph built (forward, gradients, AGC, optimizer" + (ema ? ", EMA)" : ")"),
          graph - runtime);
      double[] vars = variables(step); // weights, slots, EMA, other
      resetPeak();
      step.initialize();
      double init = mb(Memory.rssBytes());
      line(r, sum, "variables", "variables initialized (RSS delta)", init - graph);
      line(r, sum, "variables_weights", "  of which weights (counted from the graph)", vars[0]);
      line(r, sum, "variables_slots", "  momentum slots", vars[1]);
      line(r, sum, "variables_ema", "  EMA", vars[2]);
      line(r, sum, "variables_other", "  other (step, schedule)", vars[3]);
      resetPeak();
      try (var out = step.session().runner().fetch(step.loss()).run()) {
        // forward pass and loss only
      }
      double forwardPeak = mb(Memory.peakRssBytes());
      double afterForward = mb(Memory.rssBytes());
      line(r, sum, "first_forward_peak_over_init", "first forward-only run: peak over the "
          + "variables' RSS", forwardPeak - init);
      resetPeak();
      step.run(false);
      double firstPeak = mb(Memory.peakRssBytes());
      line(r, sum, "first_step_peak_over_init", "first step: peak over the variables' RSS",
          firstPeak - init);
      for (int i = 0; i < Math.max(1, s.warmup()); i++) {
        step.run(false);
      }
      double before = mb(Memory.rssBytes());
      line(r, sum, "retained_after_steps", "retained between steps (RSS after warm-up steps "
          + "over the variables')", before - init);
      double stepPeak = 0;
      double fwdPeak = 0;
      for (int i = 0; i < Math.max(1, s.repeats()); i++) {
        resetPeak();
        double b = mb(Memory.rssBytes());
        step.run(false);
        stepPeak = Math.max(stepPeak, mb(Memory.peakRssBytes()) - b);
        resetPeak();
        b = mb(Memory.rssBytes());
        try (var out = step.session().runner().fetch(step.loss()).run()) {
          // forward pass and loss only
        }
        fwdPeak = Math.max(fwdPeak, mb(Memory.peakRssBytes()) - b);
      }
      line(r, sum, "step_transient", "steady step: peak over the RSS before it (activations "
          + "kept for the backward pass, gradients, temporaries)", stepPeak);
      line(r, sum, "step_gradients", "  of which gradients (= trainable weights, counted)",
          vars[0]);
      line(r, sum, "forward_transient", "steady forward-only run: peak over the RSS before it",
          fwdPeak);
      // Before the traced step, whose trace bookkeeping is not part of training.
      processPeak = mb(Memory.lifetimePeakBytes());
      try (Result out = step.session().runner().addTarget(step.trainOp())
          .setOptions(KernelTally.TRACE).runAndFetchMetadata()) {
        double inUse = mb(allocatorPeak(out.getMetadata().orElseThrow()));
        if (inUse > 0) {
          line(r, sum, "allocator_peak", "TF's own accounting: highest bytes in use in its "
              + "allocators during a traced step (variables included)", inUse);
          line(r, sum, "allocator_working_set", "  over the variables (the step's working set: "
              + "activations, gradients, temporaries)", inUse - vars[0] - vars[1] - vars[2]
              - vars[3]);
        } else {
          // TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1 (the launcher's tcmalloc setting): no allocator
          // records its bytes in the step stats.
          sum.append("  TF's own accounting: none (oneDNN's buffers come from malloc, which TF "
              + "does not count)\n");
        }
      }
      r.put("after_forward_rss_mb", afterForward);
      r.put("seconds", (System.nanoTime() - t0) / 1e9);
    }
    line(r, sum, "process_peak", "process peak RSS (whole life, before the traced step)",
        processPeak);
    r.put("recompute", recompute);
    r.put("ema", ema);
    r.put("summary", sum.toString().stripTrailing());
    return r;
  }

  /**
   * The highest {@code allocator_bytes_in_use} any kernel of a traced run recorded, summed over
   * allocators (each at its own highest): TF's own count of live bytes, which the resident set
   * exceeds by what its pools and malloc keep without using.
   */
  private static long allocatorPeak(RunMetadata md) {
    Map<String, Long> peak = new HashMap<>();
    for (DeviceStepStats d : md.getStepStats().getDevStatsList()) {
      for (NodeExecStats n : d.getNodeStatsList()) {
        for (AllocatorMemoryUsed m : n.getMemoryList()) {
          peak.merge(m.getAllocatorName(), m.getAllocatorBytesInUse(), Math::max);
        }
      }
    }
    return peak.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Bytes of the graph's variables as MB: {weights, momentum slots, EMA, other}. */
  private static double[] variables(TrainStep step) {
    double[] mb = new double[4];
    Iterator<GraphOperation> it = step.graph().operations();
    while (it.hasNext()) {
      GraphOperation op = it.next();
      if (!op.type().equals("VariableV2") && !op.type().equals("VarHandleOp")) {
        continue;
      }
      long n = op.attributes().getAttrShape("shape").size();
      DataType t = op.attributes().getAttrType("dtype");
      int bytes = switch (t) {
        case DT_BFLOAT16, DT_HALF -> 2;
        case DT_DOUBLE, DT_INT64 -> 8;
        default -> 4;
      };
      String name = op.name();
      int k = name.startsWith(ExponentialMovingAverage.SCOPE + "/") ? 2 : name.startsWith("optimizer") ? 1
          : t == DataType.DT_FLOAT && !name.equals(TrainState.GLOBAL_STEP) ? 0 : 3;
      mb[k] += n * bytes / 1e6;
    }
    return mb;
  }

  private static void line(ObjectNode r, StringBuilder sum, String key, String label, double mb) {
    r.put(key + "_mb", mb);
    sum.append(String.format(Locale.ROOT, "  %-95s %7.0f%n", label, mb));
  }

  private static double mb(long bytes) {
    return bytes / 1e6;
  }

  /** Resets VmHWM to the current RSS (Linux: "5" to clear_refs); the lifetime peak is kept. */
  private static void resetPeak() throws IOException {
    Memory.notePeak();
    Files.writeString(Path.of("/proc/self/clear_refs"), "5");
  }
}
