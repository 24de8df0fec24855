package org.nfnet.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code nfnet} command; each sub-command is one class in this package. */
@Command(
    name = "nfnet",
    mixinStandardHelpOptions = true,
    version = "nfnet 0.1.0 (TensorFlow Java 1.1.0)",
    description = "NFNets (Normalizer-Free Networks) for TensorFlow Java.",
    subcommands = {DemoCommand.class, InfoCommand.class, InspectCommand.class, ConvertCommand.class, PullCommand.class, TrainCommand.class, PlotCommand.class, BenchCommand.class, LogitsCommand.class,
        PredictCommand.class, ServeCommand.class, XlaReportCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the CLI without exiting (tests call this). */
  public static int run(String... args) {
    return run(CommandLine.defaultFactory(), args);
  }

  /** Runs the CLI with a picocli factory that creates the commands (tests inject dependencies). */
  public static int run(CommandLine.IFactory factory, String... args) {
    if (System.getenv("NFNET_DEBUG") == null) {
      // Library INFO logs (e.g. which dataset files were picked) duplicate what commands print.
      java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.WARNING);
    }
    CommandLine cl = new CommandLine(new Main(), factory);
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      // Bad input (unknown variant, malformed file, ...) is reported as one clear line, not a trace.
      if (isBadInput(ex)) {
        cmd.getErr().println("error: " + ex.getMessage());
        if (System.getenv("NFNET_DEBUG") != null) {
          ex.printStackTrace(cmd.getErr());
        }
        return 2;
      }
      throw ex;
    });
    return cl.execute(args);
  }

  /** Failures caused by the user's input or environment, reported without a stack trace. */
  static boolean isBadInput(Throwable ex) {
    return ex instanceof IllegalArgumentException
        || ex instanceof IllegalStateException
        || ex instanceof java.io.IOException
        || ex instanceof java.io.UncheckedIOException
        || ex instanceof org.nfnet.converters.WeightFileException
        || ex instanceof org.tensorflow.exceptions.TensorFlowException;
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
