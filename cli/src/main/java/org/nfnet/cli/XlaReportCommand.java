package org.nfnet.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.nfnet.training.xla.XlaProbe;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code nfnet xla-report}: how XLA auto-clustering compiles the training step and inference. */
@Command(name = "xla-report", mixinStandardHelpOptions = true,
    description = {"Runs a graph under XLA auto-clustering (CPU global JIT, in a child JVM) and"
        + " prints 'clusters: N, nodes in clusters: P%%, ref-variable ops: K', the ops left"
        + " outside clusters with TensorFlow's reason, and losses (logits) with and without XLA."})
final class XlaReportCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--graph", split = ",", defaultValue = "train,inference",
      description = "train (the step 'nfnet train --xla' runs), train-2cpu (the same step"
          + " over two local CPU towers), train-recompute (the step with --recompute),"
          + " inference (the forward on resource variables);"
          + " comma-separated (default: ${DEFAULT-VALUE}).")
  List<String> graphs;

  @Option(names = "--variant", defaultValue = "variants/t0.json",
      description = "Variant name or .json (default: ${DEFAULT-VALUE}).")
  String variant;

  @Option(names = "--res", defaultValue = "32", description = "Image size (default: ${DEFAULT-VALUE}).")
  int res;

  @Option(names = "--batch", defaultValue = "8", description = "Batch size (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--steps", defaultValue = "5", description = "Training steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--input", defaultValue = "synthetic",
      description = "synthetic or fashion (bundled Fashion-MNIST subset via tf.data; default: ${DEFAULT-VALUE}).")
  String input;

  @Option(names = "--bench-rounds", defaultValue = "0",
      description = "inference: interleaved XLA/plain timing rounds (default: none).")
  int benchRounds;

  @Option(names = "--dump", description = "Directory for graph dumps and TF logs (default: a new temp dir).")
  Path dump;

  @Option(names = "--nodes", description = "Also list the names of the nodes outside clusters.")
  boolean nodes;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Path d = dump != null ? dump : Files.createTempDirectory("nfnet-xla-report");
    XlaProbe.Options o = new XlaProbe.Options(variant, res, batch, steps, input, benchRounds);
    for (String g : graphs) {
      XlaProbe.run(XlaProbe.Kind.of(g), o, d, out, nodes);
    }
    out.println("graph dumps, HLO modules and TF logs: " + d.toAbsolutePath()
        + (dump == null ? " (a temporary directory; delete it when done)" : ""));
    out.flush();
    return 0;
  }
}
