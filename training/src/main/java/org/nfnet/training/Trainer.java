package org.nfnet.training;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.WeightFileReader;
import org.nfnet.training.distributed.DataParallel;
import org.nfnet.training.distributed.PeerFailureException;
import org.nfnet.training.distributed.WorkerServer;
import org.tensorflow.DeviceSpec;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * The training loop: builds a {@link TrainStep}, initialises (from scratch, a release file for
 * fine-tuning, or the latest checkpoint with {@code resume}), runs the steps with a progress bar,
 * TensorBoard summaries, periodic EMA evaluation and checkpoints, and ends with a curve plot.
 *
 * <p>Stopping: SIGINT/SIGTERM (a JVM shutdown hook) or {@link #requestStop()} make the loop save a
 * checkpoint after the current step and return {@link Status#INTERRUPTED}; the hook waits for that
 * save before letting the JVM exit. A non-finite loss stops with {@link Status#DIVERGED} and does
 * <em>not</em> save, so the last good checkpoint stays the latest.
 *
 * <p>Data parallelism ({@link TrainingConfig#cluster()}, {@link TrainingConfig#devices()}): every
 * task runs this loop on its shard of each global batch; the step all-reduces gradients and
 * metrics, so all tasks see the same loss and stay in lockstep. Only the chief (task 0) saves
 * checkpoints, evaluates and writes summaries and curves; every task restores the latest
 * checkpoint of the shared directory on resume. A lost or stuck peer ends the run with a
 * {@link PeerFailureException} (no checkpoint is written: restart all tasks with resume). A stop
 * request (SIGINT/SIGTERM) is not coordinated: a stopped task makes its peers fail the same way,
 * so stop all tasks together.
 */
public final class Trainer {
  public enum Status { COMPLETED, INTERRUPTED, DIVERGED }

  /**
   * @param status how the run ended
   * @param step global step reached (updates applied)
   * @param lastCheckpoint latest complete checkpoint, if any
   * @param message human-readable summary (the divergence reason for DIVERGED)
   */
  public record Result(Status status, long step, Optional<Path> lastCheckpoint, String message,
      List<TrainStep.StepMetrics> history, List<TrainStep.EvalMetrics> evals) {}

  private final AtomicBoolean stop = new AtomicBoolean();
  private static final long SHUTDOWN_WAIT_SECONDS = 120;

  /** Asks a running loop to checkpoint and return after the current step. */
  public void requestStop() {
    stop.set(true);
  }

  /** Convenience: a fresh trainer running {@code config} on {@code input}. */
  public static Result train(TrainingConfig config, InputSource input, TrainingListener listener) {
    return new Trainer().run(config, input, listener);
  }

  public Result run(TrainingConfig cfg, InputSource input, TrainingListener listener) {
    TrainingListener l = listener == null ? new TrainingListener() {} : listener;
    if (input.numClasses() != cfg.model().numClasses()) {
      throw new IllegalArgumentException("the input has " + input.numClasses()
          + " classes but the model " + cfg.model().numClasses()
          + " (use NFNetConfig.withNumClasses)");
    }
    Checkpoints ckpts = new Checkpoints(cfg.checkpointDir(), cfg.keepCheckpoints());
    if (cfg.isChief()) {
      ckpts.cleanTemporaries(); // other tasks only read the chief's checkpoints
    }
    Optional<Path> resumeFrom = cfg.resume() ? ckpts.latest() : Optional.empty();
    long startStep = resumeFrom.map(p -> Checkpoints.meta(p).step()).orElse(0L);
    if (resumeFrom.isPresent()) {
      Checkpoints.Meta meta = Checkpoints.meta(resumeFrom.get());
      if (meta.numClasses() != cfg.model().numClasses()) {
        throw new IllegalArgumentException("checkpoint " + resumeFrom.get() + " has "
            + meta.numClasses() + " classes, the model " + cfg.model().numClasses());
      }
    }
    StepConfig opts = cfg.step().with(b -> b
        .schedule(cfg.schedule(input.size(), input.batchSize()))
        .frozen(cfg.fineTune() == null ? p -> false : cfg.fineTune().frozen(cfg.model()))
        .logDir(cfg.isChief() ? cfg.tensorboardDir() : null)
        .parallel(dataParallel(cfg)));

    CountDownLatch finished = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      stop.set(true);
      try {
        finished.await(SHUTDOWN_WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
    }, "nfnet-trainer-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try (TrainStep step = TrainStep.create(cfg.model(), input.startingAt(startStep), opts)) {
      if (resumeFrom.isPresent()) {
        Checkpoints.restore(step, resumeFrom.get());
        step.startInput();
      } else {
        step.initialize();
        if (cfg.fineTune() != null) {
          loadFineTuneWeights(step, cfg.fineTune());
        }
      }
      long at = step.globalStep();
      l.onStart(step, at);
      Result result = loop(cfg, step, ckpts, resumeFrom, at, l);
      l.onFinish(step, result);
      return result;
    } finally {
      finished.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it is released by the latch above
      }
    }
  }

  /**
   * The replication of the step: this process's task of the cluster (its gRPC server is started
   * once per process) and/or several local devices; null for a plain single-device run.
   */
  static DataParallel dataParallel(TrainingConfig cfg) {
    if (!cfg.dataParallel()) {
      return null;
    }
    String device = cfg.step().device();
    DeviceSpec.DeviceType type = device != null && device.toUpperCase(Locale.ROOT).contains("GPU")
        ? DeviceSpec.DeviceType.GPU : DeviceSpec.DeviceType.CPU;
    int n = Math.max(1, cfg.devices());
    DataParallel dp = cfg.cluster() == null ? DataParallel.local(n, type)
        : DataParallel.cluster(WorkerServer.shared(cfg.cluster(),
            DataParallel.baseServerConfig(null, n, type)), n, type);
    String timeout = System.getProperty("nfnet.collective.timeoutSeconds");
    return timeout == null ? dp : dp.withTimeoutSeconds(Float.parseFloat(timeout));
  }

  private Result loop(TrainingConfig cfg, TrainStep step, Checkpoints ckpts,
      Optional<Path> lastCkpt, long at, TrainingListener l) {
    List<TrainStep.StepMetrics> history = new ArrayList<>();
    List<TrainStep.EvalMetrics> evals = new ArrayList<>();
    int batch = step.input().batchSize();
    Optional<Path> last = lastCkpt;
    long savedAt = lastCkpt.isPresent() ? at : -1;
    Status status = Status.COMPLETED;
    String message = "";
    double ips = 0;
    boolean chief = cfg.isChief();
    ProgressBar bar = cfg.progressBar() ? new ProgressBarBuilder().setTaskName("train")
        .setInitialMax(cfg.steps()).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500)
        .startsFrom(at, Duration.ZERO).setMaxRenderedLength(160).build() : null;
    try {
      long t0 = System.nanoTime();
      while (at < cfg.steps()) {
        if (stop.get()) {
          status = Status.INTERRUPTED;
          break;
        }
        boolean log = cfg.logEvery() > 0 && at % cfg.logEvery() == 0;
        TrainStep.StepMetrics m;
        try {
          m = step.run(log);
        } catch (RuntimeException e) {
          // A dead, unreachable or stuck peer: say so plainly; all tasks must restart from the
          // last checkpoint (TF has aborted this process's collectives).
          throw cfg.cluster() == null ? e : PeerFailureException.classify(cfg.cluster(), e);
        }
        long t1 = System.nanoTime();
        double inst = batch / Math.max(1e-9, (t1 - t0) / 1e9);
        ips = ips == 0 ? inst : 0.9 * ips + 0.1 * inst;
        t0 = t1;
        if (!Double.isFinite(m.loss())) {
          status = Status.DIVERGED;
          message = String.format(Locale.ROOT,
              "training diverged: loss is %s at step %d (lr %.4g); not saving; last good checkpoint: %s",
              m.loss(), m.step(), m.learningRate(), last.map(Path::toString).orElse("none"));
          break;
        }
        history.add(m);
        at = m.step() + 1;
        l.onStep(m, ips);
        if (bar != null) {
          bar.stepTo(at);
          bar.setExtraMessage(String.format(Locale.ROOT,
              " %.0f img/s loss %.4f acc %.3f lr %.4g clip %.3f", ips, m.loss(), m.top1(),
              m.learningRate(), m.clipFraction()));
        }
        if (chief && cfg.checkpointEvery() > 0 && at % cfg.checkpointEvery() == 0) {
          last = Optional.of(ckpts.save(step, at));
          savedAt = at;
          l.onCheckpoint(last.get(), at);
        }
        if (chief && cfg.evalEvery() > 0 && at % cfg.evalEvery() == 0 && step.hasEval()) {
          TrainStep.EvalMetrics em = step.evaluate(evalBatches(cfg, step));
          evals.add(em);
          l.onEval(em);
        }
      }
    } finally {
      if (bar != null) {
        bar.close();
      }
    }
    if (status != Status.DIVERGED) {
      if (chief && savedAt != at) {
        last = Optional.of(ckpts.save(step, at));
        l.onCheckpoint(last.get(), at);
      }
      if (chief && status == Status.COMPLETED && step.hasEval()
          && (evals.isEmpty() || evals.get(evals.size() - 1).step() != at)) {
        TrainStep.EvalMetrics em = step.evaluate(evalBatches(cfg, step));
        evals.add(em);
        l.onEval(em);
      }
      message = String.format(Locale.ROOT, "%s at step %d%s", status.name().toLowerCase(Locale.ROOT),
          at, evals.isEmpty() ? "" : String.format(Locale.ROOT, ", eval top-1 %.4f top-5 %.4f",
              evals.get(evals.size() - 1).top1(), evals.get(evals.size() - 1).top5()));
    }
    step.flushSummaries();
    try {
      if (chief && !history.isEmpty()) {
        Files.createDirectories(cfg.outputDir());
        CurvePlot.save(history, evals, cfg.model().name() + " training",
            cfg.outputDir().resolve("curves.png"));
      }
    } catch (IOException | RuntimeException e) {
      message += " (curve plot failed: " + e.getMessage() + ")";
    }
    return new Result(status, at, last, message, history, evals);
  }

  private static int evalBatches(TrainingConfig cfg, TrainStep step) {
    return cfg.evalBatches() > 0 ? cfg.evalBatches() : step.evalBatches();
  }

  /** Loads release weights (all but a replaced head), then EMA := weights, fresh optimizer. */
  static void loadFineTuneWeights(TrainStep step, FineTuning ft) {
    try (HaikuParams hp = WeightFileReader.read(ft.weights())) {
      java.util.Set<String> keys = new java.util.HashSet<>();
      step.parameters().entries().forEach(e -> {
        if (ft.loads(e.spec())) {
          if (hp.get(e.spec().haikuKey()) == null) {
            throw new IllegalArgumentException(ft.weights() + " has no parameter "
                + e.spec().haikuKey());
          }
          keys.add(e.spec().haikuKey());
        }
      });
      step.loadParameters(spec -> TFloat32.tensorOf(Shape.of(spec.shape()),
          DataBuffers.of(hp.get(spec.haikuKey()).toFloatBuffer())), keys);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    step.syncEma();
    step.resetOptimizerState();
  }
}
