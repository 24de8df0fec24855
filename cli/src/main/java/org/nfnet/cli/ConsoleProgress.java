package org.nfnet.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.nfnet.training.TrainStep;
import org.nfnet.training.TrainingListener;

/**
 * Training progress on the console. On a terminal: a progress bar redrawn in place, as wide as the
 * terminal (progressbar asks the terminal for its width). Otherwise (CI logs, {@code | tee}): a
 * plain line every {@code intervalSeconds} and one per evaluation, never a carriage return.
 */
final class ConsoleProgress implements TrainingListener, AutoCloseable {
  private final PrintWriter out;
  private final long total;
  private final boolean bar;
  private final boolean stepLines;
  private final long intervalNanos;
  private ProgressBar progress;
  private long lastLine;
  private final int classes;

  /**
   * @param terminal stdout is a terminal: draw a bar (if {@code show})
   * @param show step progress at all (false: only evaluation lines)
   */
  ConsoleProgress(PrintWriter out, long total, int classes, boolean terminal, boolean show,
      double intervalSeconds) {
    this.classes = classes;
    this.out = out;
    this.total = total;
    this.bar = terminal && show;
    this.stepLines = !terminal && show;
    this.intervalNanos = (long) (intervalSeconds * 1e9);
  }

  @Override
  public void onStart(TrainStep step, long startStep) {
    lastLine = System.nanoTime();
    if (bar) {
      out.flush();
      // On stdout with the rest of the output (the launcher filters stderr line by line).
      progress = new ProgressBarBuilder().setTaskName("train").setInitialMax(total)
          .setConsumer(new ConsoleProgressBarConsumer(System.out))
          .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500)
          .startsFrom(startStep, Duration.ZERO).build();
    }
  }

  @Override
  public void onStep(TrainStep.StepMetrics m, double ips) {
    if (progress != null) {
      progress.stepTo(m.step() + 1);
      progress.setExtraMessage(" " + stats(m, ips));
    } else if (stepLines && System.nanoTime() - lastLine >= intervalNanos) {
      lastLine = System.nanoTime();
      out.printf(Locale.ROOT, "step %d/%d  %s%n", m.step() + 1, total, stats(m, ips));
      out.flush();
    }
  }

  private static String stats(TrainStep.StepMetrics m, double ips) {
    return String.format(Locale.ROOT, "loss %.4f acc %.3f lr %.4g clip %.3f %.0f img/s",
        m.loss(), m.top1(), m.learningRate(), m.clipFraction(), ips);
  }

  @Override
  public void onEval(TrainStep.EvalMetrics m) {
    if (progress == null) {
      out.printf(Locale.ROOT, "step %d  eval %s (%d images)%n", m.step(), TrainingRun.accuracy(m, classes),
          m.examples());
      out.flush();
    }
  }

  @Override
  public void close() {
    if (progress != null) {
      progress.close();
      progress = null;
    }
  }
}
