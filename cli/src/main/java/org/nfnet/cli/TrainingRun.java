package org.nfnet.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.training.FineTuning;
import org.nfnet.training.LearningRateSchedule;
import org.nfnet.training.OptimizerConfig;
import org.nfnet.training.TrainStep;
import org.nfnet.training.Trainer;
import org.nfnet.training.TrainingConfig;
import org.nfnet.training.TrainingListener;
import org.nfnet.training.data.Augment;
import org.nfnet.training.distributed.ClusterSpec;
import org.nfnet.training.distributed.PeerFailureException;
import org.nfnet.training.data.DataOptions;
import org.nfnet.training.data.InputSource;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;

/**
 * One training run as {@code nfnet train} and {@code nfnet demo} start it: validates everything
 * that can be validated, prepares the {@link RunDirectory}, prints the header, runs the
 * {@link Trainer} with the console progress, metrics log and SavedModel export as listeners, stops
 * cleanly on SIGINT/SIGTERM ({@link StopOnSignal}) and reports where everything is.
 */
final class TrainingRun {
  private static final ObjectMapper JSON = new ObjectMapper();

  private TrainingRun() {}

  /**
   * How this invocation runs, beside the saved settings.
   *
   * @param changed on resume: the options given again (recorded in run.json); null for a fresh run
   * @param targetGiven on resume: --steps/--epochs set the new total
   */
  record Session(ObjectNode changed, boolean targetGiven, double progressSeconds) {}

  record Result(Trainer.Status status, Trainer.Result trainer, Path export, TrainingData data) {}

  /** Rejects option values that make no sense, naming the option. */
  static void validate(TrainCommand.Settings s) {
    require(s.batch() >= 1, "--batch", s.batch(), "must be at least 1");
    require(s.steps() == null || s.steps() >= 1, "--steps", s.steps(), "must be at least 1");
    require(s.epochs() == null || (s.epochs() > 0 && Double.isFinite(s.epochs())), "--epochs",
        s.epochs(), "must be > 0");
    require(s.lr() > 0 && Double.isFinite(s.lr()), "--lr", s.lr(), "must be > 0");
    require(s.clipping() >= 0 && Double.isFinite(s.clipping()), "--clipping", s.clipping(),
        "must be >= 0 (0 disables AGC)");
    require(s.weightDecay() >= 0 && Double.isFinite(s.weightDecay()), "--weight-decay",
        s.weightDecay(), "must be >= 0");
    require(s.warmupEpochs() >= 0 && Double.isFinite(s.warmupEpochs()), "--warmup-epochs",
        s.warmupEpochs(), "must be >= 0");
    require(s.emaDecay() >= 0 && s.emaDecay() < 1, "--ema-decay", s.emaDecay(), "must be in [0, 1)");
    require(s.res() == null || s.res() >= 1, "--res", s.res(), "must be at least 1");
    require(s.evalEvery() == null || s.evalEvery() >= 1, "--eval-every", s.evalEvery(), "must be at least 1");
    require(s.evalBatches() >= 0, "--eval-batches", s.evalBatches(), "must be >= 0");
    require(s.checkpointEvery() >= 0, "--checkpoint-every", s.checkpointEvery(), "must be >= 0");
    require(s.finetune() != null || s.freezeStages() == -1, "--freeze-stages", s.freezeStages(),
        "needs --finetune");
    require(s.freezeStages() >= -1 && s.freezeStages() <= org.nfnet.zoo.NFNetConfig.STAGES,
        "--freeze-stages", s.freezeStages(), "must be -1 (nothing), 0 (stem) or 1.." + NFNetConfig.STAGES);
  }

  private static void require(boolean ok, String option, Object value, String why) {
    if (!ok) {
      throw new UserException(option + " " + value + ": " + why);
    }
  }

  /** "top-1 91.20%, top-5 99.10%" (no top-5 with fewer than 6 classes: it would be 100%). */
  static String accuracy(TrainStep.EvalMetrics m, int classes) {
    return String.format(Locale.ROOT, "top-1 %.2f%%", 100 * m.top1())
        + (classes > 5 ? String.format(Locale.ROOT, ", top-5 %.2f%%", 100 * m.top5()) : "")
        + String.format(Locale.ROOT, ", loss %.4f", m.loss());
  }

  /** Runs a fresh training as configured (shared with {@code nfnet demo}). */
  static Result run(TrainCommand.Settings s, PrintWriter o) throws Exception {
    return run(s, o, null, 1, new Session(null, false, 30));
  }

  /**
   * Runs training, data-parallel over the tasks of {@code cluster} (null: one process) and
   * {@code devices} replicas in this process. Only the chief (task 0) writes run.json, metrics,
   * checkpoints, TensorBoard logs, curves and the export.
   */
  static Result run(TrainCommand.Settings s, PrintWriter o, ClusterSpec cluster, int devices, Session session)
      throws Exception {
    validate(s);
    boolean chief = cluster == null || cluster.isChief();
    NFNetConfig model = NFNetConfig.resolve(s.variant());
    int trainRes = s.res() != null ? s.res() : model.trainImsize();
    int evalRes = s.res() != null ? s.res() : model.testImsize();
    NFNetStructure.checkInputSize(model, trainRes, trainRes);
    String aug = s.augment() != null ? s.augment()
        : s.data().startsWith("fashion-mnist") ? "none" : "deepmind";
    Augment augment = switch (aug.toLowerCase(Locale.ROOT)) {
      case "none" -> Augment.NONE;
      case "deepmind" -> Augment.deepMind(model.raLevel() != null ? model.raLevel() : "405");
      default -> throw new UserException("--augment must be none or deepmind, got '" + aug + "'");
    };
    TrainingData data = TrainingData.resolve(s.data(), DataOptions.of(trainRes, evalRes).withAugment(augment),
        s.batch(), s.seed());
    InputSource input = data.input();
    InputSource test = input.eval();
    if (model.numClasses() != input.numClasses()) {
      model = model.withNumClasses(input.numClasses());
    }
    if (cluster != null || devices > 1) {
      int replicas = devices * (cluster == null ? 1 : cluster.numTasks());
      require(s.batch() % replicas == 0, "--batch", s.batch(), "(the global batch) must be divisible by "
          + "the number of replicas (tasks x --devices = " + replicas + ")");
    }
    // With MixUp/CutMix each step consumes two examples per output example (as DeepMind).
    long perStep = (long) s.batch() * (augment.any() && (augment.mixup() || augment.cutmix()) ? 2 : 1);
    long steps = s.steps() != null ? s.steps()
        : (long) Math.ceil(s.epochs() * input.size() / (double) perStep);
    ObjectNode saved = s.resume() ? RunDirectory.read(s.out()) : null;
    ResumePlan plan = s.resume() ? ResumePlan.of(s.out(), steps, session.targetGiven()) : null;
    long planned = saved != null ? RunDirectory.plannedSteps(saved) : steps;
    OptimizerConfig opt = OptimizerConfig.deepMind().withClipping(s.clipping()).withWeightDecay(s.weightDecay());
    TrainingConfig cfg = TrainingConfig.defaults(model, planned, s.out())
        .with(b -> b.baseLr(s.lr()).warmupEpochs(s.warmupEpochs()).step(st -> st.optimizer(opt)));
    LearningRateSchedule.WarmupCosineDecay base =
        (LearningRateSchedule.WarmupCosineDecay) cfg.schedule(input.size(), input.batchSize());
    LearningRateSchedule schedule = plan == null ? base
        : RunDirectory.schedule(base, saved, plan.step(), steps);
    int evalEvery = s.evalEvery() != null ? s.evalEvery() : (int) Math.max(1, steps / 10);
    int fullEval = test == null ? 0 : (int) ((test.size() + s.batch() - 1) / s.batch());
    int evalBatches = s.evalBatches() > 0 ? s.evalBatches() : Math.min(fullEval, evalEvery);
    cfg = cfg.with(b -> b.steps(steps)
        .step(st -> st.emaDecay(s.emaDecay()).regularize(s.regularize()).bf16(s.bf16())
            .xla(s.xla()).recompute(s.recompute()).device(s.device()).seed(s.seed()))
        .eval(test != null ? evalEvery : 0, evalBatches)
        .checkpointEvery(s.checkpointEvery()).resume(s.resume())
        .cluster(cluster).devices(devices));
    FineTuneWeights weights = s.finetune() != null && !s.resume() ? FineTuneWeights.open(s.finetune(), model) : null;
    FineTuning ft = weights == null ? null : new FineTuning(weights, true, s.freezeStages());
    if (ft != null) {
      cfg = cfg.with(b -> b.fineTune(ft));
    }
    RunDirectory run = null;
    Path exportDir = s.out().resolve("savedmodel");
    Path[] exported = new Path[1];
    Trainer trainer = new Trainer().schedule(schedule).finalEvalBatches(s.evalBatches() > 0 ? 0 : -1);
    try (weights; StopOnSignal stop = new StopOnSignal(trainer)) {
      if (chief) {
        run = s.resume() ? RunDirectory.existing(s.out())
            : RunDirectory.create(s.out(), JSON.valueToTree(s), steps);
        if (s.resume()) {
          run.recordResume(saved, plan.step(), steps, session.changed() == null ? JSON.createObjectNode()
              : session.changed());
        }
      }
      double stepsPerEpoch = Math.max(1.0, (double) input.size() / input.batchSize());
      o.printf("data     %s%n", data.description());
      o.printf("model    %s, %,d parameters, %d classes, train %dpx / eval %dpx%s%n", model.name(),
          NFNetStructure.parameterCount(model), model.numClasses(), trainRes, evalRes,
          (s.bf16() ? ", bf16 convolutions" : "") + (s.recompute() ? ", activations recomputed" : ""));
      o.printf(Locale.ROOT, "recipe   %d steps x batch %d, lr %.3g x %d/256 (warm-up %d steps = %.3g epochs%s, "
              + "cosine to step %d), AGC %s, wd %.1g, label smoothing 0.1, EMA %.4g, augment %s%n", steps,
          s.batch(), s.lr(), s.batch(), base.warmupSteps(), base.warmupSteps() / stepsPerEpoch,
          base.warmupSteps() < Math.round(s.warmupEpochs() * stepsPerEpoch) ? ", capped at half the run" : "",
          steps, s.clipping() > 0 ? "lambda " + s.clipping() : "off", s.weightDecay(), s.emaDecay(), aug);
      if (test != null) {
        o.printf(Locale.ROOT, "eval     every %d steps on %d images, the final one on %d%n", evalEvery,
            Math.min(test.size(), (long) evalBatches * s.batch()),
            s.evalBatches() > 0 ? Math.min(test.size(), (long) evalBatches * s.batch()) : test.size());
      }
      if (weights != null) {
        o.printf("finetune %s%n", weights.summary(model, ft));
      }
      o.printf("run dir  %s%n", s.out().toAbsolutePath());
      if (cluster != null || devices > 1) {
        int replicas = devices * (cluster == null ? 1 : cluster.numTasks());
        o.printf("parallel %d replicas x batch %d (%s%d device(s) per process)%s%n", replicas,
            s.batch() / replicas, cluster == null ? "" : cluster.numTasks() + " tasks, this is task "
            + cluster.taskIndex() + ", ", devices, chief ? "" : "; task 0 writes the outputs");
      }
      if (plan != null) {
        plan.skipped().forEach(k -> o.printf("warning: skipping damaged checkpoint %s%n", k));
        o.println(plan.line());
        if (plan.step() > base.warmupSteps() && schedule.valueAt(plan.step()) <= 0.01 * base.maxVal()) {
          o.printf(Locale.ROOT, "warning: the learning rate had decayed to %.3g by step %d; the schedule "
              + "continues from there, so the added steps barely train (for a new schedule start a new run, "
              + "e.g. --finetune the export)%n", schedule.valueAt(plan.step()), plan.step());
        }
      }
      o.flush();
      Trainer.Result r;
      MetricsLog metrics = chief ? new MetricsLog(s.out()) : null;
      final NFNetConfig finalModel = model;
      try (ConsoleProgress progress = new ConsoleProgress(o, steps, model.numClasses(),
          System.console() != null, s.progress(), session.progressSeconds())) {
        TrainingListener listener = new TrainingListener() {
          @Override
          public void onStart(TrainStep step, long startStep) {
            if (metrics != null) {
              metrics.onStart(step, startStep);
            }
            progress.onStart(step, startStep);
          }

          @Override
          public void onStep(TrainStep.StepMetrics m, double imagesPerSecond) {
            if (metrics != null) {
              metrics.onStep(m, imagesPerSecond);
            }
            progress.onStep(m, imagesPerSecond);
          }

          @Override
          public void onCheckpoint(Path checkpoint, long step) {
            if (metrics != null) {
              metrics.onCheckpoint(checkpoint, step);
            }
          }

          @Override
          public void onEval(TrainStep.EvalMetrics m) {
            if (metrics != null) {
              metrics.onEval(m);
            }
            progress.onEval(m);
          }

          @Override
          public void onFinish(TrainStep step, Trainer.Result result) {
            progress.close();
            if (metrics != null) {
              metrics.close();
            }
            if (chief && s.export() && result.status() != Trainer.Status.DIVERGED) {
              Map<String, Object> card = new LinkedHashMap<>();
              card.put("trained_on", data.description());
              card.put("training_steps", result.step());
              card.put("weights", "EMA (decay " + s.emaDecay() + ")");
              try {
                NFNetExporter.Result e = ModelExport.export(step, finalModel, exportDir,
                    data.cropPadding(), data.classNames(), card);
                exported[0] = e.dir();
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("exporting the SavedModel to " + exportDir + ": "
                    + e.getMessage(), e);
              }
            }
          }
        };
        r = trainer.run(cfg, input, listener);
      } catch (RuntimeException | Error e) {
        if (run != null && !s.resume() && !RunDirectory.hasCheckpoint(s.out())) {
          run.abandon(); // a failed start leaves no half run behind
        }
        throw e;
      }
      report(o, s, r, model, exported[0], chief);
      return new Result(r.status(), r, exported[0], data);
    }
  }

  /** The end of a run: outcome, final evaluation, where everything is (and how to resume). */
  private static void report(PrintWriter o, TrainCommand.Settings s, Trainer.Result r, NFNetConfig model,
      Path exported, boolean chief) {
    o.println();
    switch (r.status()) {
      case COMPLETED -> o.printf("completed at step %d%n", r.step());
      case DIVERGED -> o.println(r.message());
      case INTERRUPTED -> o.printf("interrupted at step %d%n", r.step());
    }
    if (r.status() == Trainer.Status.COMPLETED && !r.evals().isEmpty()) {
      TrainStep.EvalMetrics last = r.evals().get(r.evals().size() - 1);
      o.printf("final eval (EMA weights): %s on %d images%n", accuracy(last, model.numClasses()),
          last.examples());
    }
    if (chief) {
      Path plot = s.out().resolve("curves.png");
      try {
        CurvePlot.save(s.out(), model.name() + " training", plot);
        o.printf("curves:      %s%n", plot.toAbsolutePath());
      } catch (java.io.IOException | RuntimeException e) {
        o.printf("warning: could not plot %s: %s%n", plot, e.getMessage());
      }
      o.printf("TensorBoard: tensorboard --logdir %s%n", s.out().resolve("tensorboard").toAbsolutePath());
    }
    r.lastCheckpoint().ifPresent(p -> o.printf("checkpoint:  %s%n", p.toAbsolutePath()));
    if (exported != null) {
      o.printf("SavedModel:  %s%n", exported.toAbsolutePath());
    }
    if (r.status() != Trainer.Status.COMPLETED && r.lastCheckpoint().isPresent()) {
      o.printf("resume with: %s train --resume %s%n", launcher(), s.out().toAbsolutePath());
    }
    o.flush();
  }

  /** How the user started the CLI (the launcher exports its path), for the resume hint. */
  private static String launcher() {
    String l = System.getenv("NFNET_LAUNCHER");
    return l != null && !l.isBlank() ? l : "nfnet";
  }
}
