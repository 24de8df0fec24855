package org.nfnet.training;

import java.util.Locale;
import org.nfnet.training.distributed.DataParallel;
import org.nfnet.training.distributed.TargetedSession;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RewriterConfig;

/** The session a {@link TrainStep} runs in, and the device and session options it is built with. */
public final class StepSession {
  private StepSession() {}

  /**
   * A session on {@code graph}: local, local with the towers' virtual devices, or on this task's
   * gRPC master (group leader, device filter, virtual CPUs) for a cluster.
   */
  static Session open(Graph graph, StepConfig c) {
    DataParallel dp = c.parallel();
    if (dp == null) {
      return new Session(graph, config(c));
    }
    if (dp.server() == null) {
      return new Session(graph, dp.sessionConfig(config(c)));
    }
    return TargetedSession.open(graph, dp.server().target(), dp.sessionConfig(config(c)));
  }

  static ConfigProto config(StepConfig c) {
    return config(c.xla());
  }

  /**
   * Soft placement (so a device request falls back to CPU); without {@code xla} no constant
   * folding, with it global XLA JIT without Grappler's CPU-only fusions, which have no XLA kernel.
   */
  public static ConfigProto config(boolean xla) {
    GraphOptions.Builder g = GraphOptions.newBuilder();
    if (!xla) {
      // Constant folding off in both of TF's graph optimizers (the classic one, which at opt
      // level L1 always folds, and Grappler's). Why: the parameters' initial values (stateless
      // random ops on a constant seed) and the zeros of the optimizer slots and EMA are constant
      // expressions. Folded, each one of up to 10 MB became a Const held by the initializer's
      // cached executor, and the variables started out on those buffers, so after the first
      // update the process held nearly every variable twice (F0 at batch 8: 2.7 GB instead of
      // 3.4 GB, 2.0 GB instead of 2.7 GB with --recompute). The step runs at the same speed
      // without it (BENCHMARKS.md, "Constant folding"). XLA steps keep both: with folding off
      // XLA fails on a step with towers on two CPU devices.
      g.setOptimizerOptions(OptimizerOptions.newBuilder().setOptLevel(OptimizerOptions.Level.L0))
          .setRewriteOptions(RewriterConfig.newBuilder()
              .setConstantFolding(RewriterConfig.Toggle.OFF));
    } else {
      // Grappler's remapper runs before XLA clustering and, on CPU, rewrites Conv2D/MatMul + BiasAdd
      // into _FusedConv2D/_FusedMatMul, which have no XLA kernel, so every such node would split
      // the step into separate clusters. TF skips this fusion under auto-clustering only on GPU,
      // so switch it off here to compile the step the way it would compile on an accelerator.
      g.setOptimizerOptions(OptimizerOptions.newBuilder()
              .setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_2))
          .setRewriteOptions(RewriterConfig.newBuilder()
              .setRemapping(RewriterConfig.Toggle.OFF));
    }
    return ConfigProto.newBuilder().setAllowSoftPlacement(true).setGraphOptions(g).build();
  }

  /** {@code /device:GPU:0}, {@code /GPU:0}, {@code cpu} ... as a device spec. */
  static DeviceSpec parseDevice(String device) {
    String d = device.trim();
    if (d.startsWith("/device:")) {
      d = d.substring("/device:".length());
    } else if (d.startsWith("/")) {
      d = d.substring(1);
    }
    String[] parts = d.split(":");
    DeviceSpec.Builder b = DeviceSpec.newBuilder()
        .deviceType(DeviceSpec.DeviceType.valueOf(parts[0].toUpperCase(Locale.ROOT)));
    if (parts.length > 1) {
      b.deviceIndex(Integer.parseInt(parts[1]));
    }
    return b.build();
  }
}
