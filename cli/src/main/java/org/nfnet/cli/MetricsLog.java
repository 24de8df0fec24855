package org.nfnet.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.nfnet.training.TrainStep;
import org.nfnet.training.TrainingListener;

/**
 * Appends every step's and every evaluation's metrics to {@code metrics.csv} / {@code evals.csv}
 * in the run directory, so curves survive a resume and several runs can be plotted together
 * ({@code nfnet plot}). On resume, step rows at or after the resumed step are dropped first (those
 * steps are about to be recomputed); evaluations up to and including the resumed step are kept
 * (they evaluated weights the checkpoint holds), so {@code evals.csv} spans every session.
 */
final class MetricsLog implements TrainingListener, AutoCloseable {
  static final String STEPS_FILE = "metrics.csv";
  static final String EVALS_FILE = "evals.csv";
  private static final String STEPS_HEADER = "step,loss,top1,lr,clip_fraction";
  private static final String EVALS_HEADER = "step,examples,loss,top1,top5";

  private final Path dir;
  private BufferedWriter steps;
  private BufferedWriter evals;

  MetricsLog(Path dir) {
    this.dir = dir;
  }

  @Override
  public void onStart(TrainStep step, long startStep) {
    Path file = dir.resolve(STEPS_FILE);
    try {
      steps = open(file, STEPS_HEADER, startStep);
      file = dir.resolve(EVALS_FILE);
      evals = open(file, EVALS_HEADER, startStep + 1);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  private static BufferedWriter open(Path file, String header, long keepBefore) throws IOException {
    List<String> kept = new ArrayList<>();
    kept.add(header);
    if (Files.exists(file)) {
      for (String line : Files.readAllLines(file)) {
        if (!line.isEmpty() && Character.isDigit(line.charAt(0))
            && Long.parseLong(line.substring(0, line.indexOf(','))) < keepBefore) {
          kept.add(line);
        }
      }
    }
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, kept);
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    return Files.newBufferedWriter(file, StandardOpenOption.APPEND);
  }

  /** The numeric rows of one of the CSV files (empty if it does not exist). */
  static List<double[]> read(Path csv) throws IOException {
    List<double[]> rows = new ArrayList<>();
    if (!Files.exists(csv)) {
      return rows;
    }
    for (String line : Files.readAllLines(csv)) {
      if (line.isEmpty() || !Character.isDigit(line.charAt(0))) {
        continue;
      }
      String[] p = line.split(",");
      double[] r = new double[p.length];
      for (int i = 0; i < p.length; i++) {
        r[i] = Double.parseDouble(p[i]);
      }
      rows.add(r);
    }
    return rows;
  }

  @Override
  public void onStep(TrainStep.StepMetrics m, double imagesPerSecond) {
    write(steps, String.format(Locale.ROOT, "%d,%.6g,%.6g,%.6g,%.6g", m.step(), m.loss(), m.top1(),
        m.learningRate(), m.clipFraction()));
  }

  @Override
  public void onEval(TrainStep.EvalMetrics m) {
    write(evals, String.format(Locale.ROOT, "%d,%d,%.6g,%.6g,%.6g", m.step(), m.examples(),
        m.loss(), m.top1(), m.top5()));
    flush();
  }

  @Override
  public void onCheckpoint(Path checkpoint, long step) {
    flush();
  }

  private static void write(BufferedWriter w, String line) {
    if (w == null) {
      return;
    }
    try {
      w.write(line);
      w.newLine();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void flush() {
    try {
      if (steps != null) {
        steps.flush();
      }
      if (evals != null) {
        evals.flush();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    try {
      if (steps != null) {
        steps.close();
      }
      if (evals != null) {
        evals.close();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
