package org.nfnet.training;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.nfnet.training.data.InputSource;
import org.nfnet.training.distributed.DataParallel;
import org.nfnet.training.distributed.PeerFailureException;
import org.nfnet.training.distributed.WorkerServer;
import org.tensorflow.DeviceSpec;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * The training loop: builds a {@link TrainStep}, initialises (from scratch, a release file for
 * fine-tuning, or the newest intact checkpoint with {@code resume}), runs the steps with
 * TensorBoard summaries, periodic EMA evaluation and checkpoints. Progress display, plots and
 * exports are the caller's, through {@link TrainingListener}.
 *
 * <p>Stopping: {@link #requestStop()} (e.g. from the CLI's SIGINT/SIGTERM handler) makes the loop
 * save a checkpoint after the current step and return {@link Status#INTERRUPTED}; the library
 * installs no signal handler itself. A non-finite loss stops with {@link Status#DIVERGED} and does
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
  private LearningRateSchedule schedule;
  private int finalEvalBatches;

  /**
   * Uses {@code s} instead of {@link TrainingConfig#schedule} (e.g. a {@link StretchedSchedule}
   * when a resumed run's length changed). Returns this trainer.
   */
  public Trainer schedule(LearningRateSchedule s) {
    this.schedule = s;
    return this;
  }

  /**
   * Batches of the evaluation at the end of the run (0, the default: as periodic evaluations, i.e.
   * {@link TrainingConfig#evalBatches()}; negative: the whole eval split). Returns this trainer.
   */
  public Trainer finalEvalBatches(int n) {
    this.finalEvalBatches = n;
    return this;
  }

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
    Optional<Path> resumeFrom = cfg.resume() ? ckpts.newestIntact().checkpoint() : Optional.empty();
    long startStep = resumeFrom.map(p -> Checkpoints.meta(p).step()).orElse(0L);
    if (resumeFrom.isPresent()) {
      Checkpoints.Meta meta = Checkpoints.meta(resumeFrom.get());
      if (meta.numClasses() != cfg.model().numClasses()) {
        throw new IllegalArgumentException("checkpoint " + resumeFrom.get() + " has "
            + meta.numClasses() + " classes, the model " + cfg.model().numClasses());
      }
    }
    StepConfig opts = cfg.step().with(b -> b
        .schedule(schedule != null ? schedule : cfg.schedule(input.size(), input.batchSize()))
        .frozen(cfg.fineTune() == null ? p -> false : cfg.fineTune().frozen(cfg.model()))
        .logDir(cfg.isChief() ? cfg.tensorboardDir() : null)
        .parallel(dataParallel(cfg)));

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
    {
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
        if (chief && cfg.checkpointEvery() > 0 && at % cfg.checkpointEvery() == 0) {
          last = Optional.of(ckpts.save(step, at));
          savedAt = at;
          l.onCheckpoint(last.get(), at);
        }
        if (chief && cfg.evalEvery() > 0 && at % cfg.evalEvery() == 0 && step.hasEval()) {
          TrainStep.EvalMetrics em = step.evaluate(at >= cfg.steps() ? finalBatches(cfg, step)
              : evalBatches(cfg, step));
          evals.add(em);
          l.onEval(em);
        }
      }
    }
    if (status != Status.DIVERGED) {
      if (chief && savedAt != at) {
        last = Optional.of(ckpts.save(step, at));
        l.onCheckpoint(last.get(), at);
      }
      if (chief && status == Status.COMPLETED && step.hasEval()
          && (evals.isEmpty() || evals.get(evals.size() - 1).step() != at)) {
        TrainStep.EvalMetrics em = step.evaluate(finalBatches(cfg, step));
        evals.add(em);
        l.onEval(em);
      }
      message = String.format(Locale.ROOT, "step %d%s", at, evals.isEmpty() ? "" : String.format(Locale.ROOT, ", eval top-1 %.4f top-5 %.4f",
              evals.get(evals.size() - 1).top1(), evals.get(evals.size() - 1).top5()));
    }
    step.flushSummaries();
    return new Result(status, at, last, message, history, evals);
  }

  private int finalBatches(TrainingConfig cfg, TrainStep step) {
    return finalEvalBatches < 0 ? step.evalBatches()
        : finalEvalBatches > 0 ? finalEvalBatches : evalBatches(cfg, step);
  }

  private static int evalBatches(TrainingConfig cfg, TrainStep step) {
    return cfg.evalBatches() > 0 ? cfg.evalBatches() : step.evalBatches();
  }

  /** Loads the start weights (all but a replaced head), then EMA := weights, fresh optimizer. */
  static void loadFineTuneWeights(TrainStep step, FineTuning ft) {
    ParameterSource src = ft.weights();
    Set<String> keys = new HashSet<>();
    step.parameters().entries().forEach(e -> {
      if (ft.loads(e.spec())) {
        keys.add(e.spec().haikuKey());
      }
    });
    step.loadParameters(spec -> {
      FloatBuffer v = src.values(spec);
      if (v == null) {
        throw new IllegalArgumentException(src.description() + " has no parameter " + spec.haikuKey());
      }
      return TFloat32.tensorOf(Shape.of(spec.shape()), DataBuffers.of(v));
    }, keys);
    step.syncEma();
    step.resetOptimizerState();
  }
}
