package org.nfnet.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code nfnet} command; each sub-command is one class in this package. */
@Command(
    name = "nfnet",
    mixinStandardHelpOptions = true,
    version = "nfnet 0.1.0 (TensorFlow Java 1.1.0)",
    description = "NFNets (Normalizer-Free Networks) for TensorFlow Java.",
    footer = {"", "The ./nfnet launcher silences TensorFlow's native log lines; --verbose (anywhere on the "
        + "command line) or NFNET_VERBOSE=1 keeps them.",
        "Exit codes: 0 success, 1 failure (some predict input, a diverged run, an internal error), "
        + "2 bad option/input, 130/143 interrupted."},
    subcommands = {DemoCommand.class, InfoCommand.class, InspectCommand.class, ConvertCommand.class, PullCommand.class, TrainCommand.class, PlotCommand.class, BenchCommand.class, LogitsCommand.class,
        PredictCommand.class, ServeCommand.class, XlaReportCommand.class, ExportCommand.class})
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
    return commandLine(factory).execute(args);
  }

  /** The command line with the CLI's error handling (tests set its output writers). */
  static CommandLine commandLine() {
    return commandLine(CommandLine.defaultFactory());
  }

  private static CommandLine commandLine(CommandLine.IFactory factory) {
    CommandLine cl = new CommandLine(new Main(), factory);
    // An empty path is the working directory to java.nio (`--out "$RUN"` with RUN unset would
    // train into it), so every path option refuses one.
    cl.registerConverter(Path.class, s -> {
      if (s.isEmpty()) {
        throw new CommandLine.TypeConversionException("the path is empty");
      }
      return Path.of(s);
    });
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      PrintWriter err = cmd.getErr();
      if (isBadInput(ex)) {
        // Bad input (unknown variant, malformed file, ...) is one clear line, not a trace.
        err.println("error: " + ex.getMessage());
        if (System.getenv("NFNET_DEBUG") != null) {
          ex.printStackTrace(err);
        }
        err.flush();
        return 2;
      }
      reportInternalError(ex, err);
      return 1;
    });
    return cl;
  }

  /**
   * Failures caused by the user's input or environment, reported without a stack trace: the CLI's
   * {@link UserException}, the libraries' argument/file errors ({@link IllegalArgumentException},
   * {@code WeightFileException}) and file-system errors. Everything else is a bug (or an
   * unexpected TensorFlow failure) and keeps its trace.
   */
  static boolean isBadInput(Throwable ex) {
    return ex instanceof UserException
        // TF's own InvalidArgument error is an IllegalArgumentException too, but from inside a
        // graph it means a bug here, not a bad option.
        || (ex instanceof IllegalArgumentException
            && !ex.getClass().getPackageName().equals("org.tensorflow.exceptions"))
        || ex instanceof java.io.IOException
        || ex instanceof java.io.UncheckedIOException
        || ex instanceof org.nfnet.converters.WeightFileException;
  }

  /** Writes the trace to a file in the temp directory and says where (the console stays short). */
  static void reportInternalError(Throwable ex, PrintWriter err) {
    err.println("internal error: " + ex);
    try {
      Path f = Files.createTempFile("nfnet-error-", ".txt");
      try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(f))) {
        ex.printStackTrace(w);
      }
      err.println("stack trace written to " + f + " (please include it when reporting the problem)");
    } catch (java.io.IOException | RuntimeException e) {
      ex.printStackTrace(err);
    }
    if (System.getenv("NFNET_DEBUG") != null) {
      ex.printStackTrace(err);
    }
    err.flush();
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
