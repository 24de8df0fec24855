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
import org.nfnet.training.DatasetInput;
import org.nfnet.training.FineTuning;
import org.nfnet.training.ModelExport;
import org.nfnet.training.OptimizerConfig;
import org.nfnet.training.TrainStep;
import org.nfnet.training.Trainer;
import org.nfnet.training.TrainingConfig;
import org.nfnet.training.TrainingListener;
import org.nfnet.training.data.Augment;
import org.nfnet.training.distributed.ClusterSpec;
import org.nfnet.training.distributed.PeerFailureException;
import org.nfnet.training.data.DataOptions;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code nfnet train}: SGD + Nesterov + AGC with DeepMind's recipe on Fashion-MNIST or an image
 * folder; checkpoints, TensorBoard logs, curves, and an exported SavedModel of the EMA weights.
 * The command line of a run is saved in {@code RUN_DIR/run.json}, so {@code --resume RUN_DIR}
 * continues it with the same settings.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train or fine-tune an NFNet (SGD + AGC, DeepMind's recipe).")
final class TrainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--variant", description = "F0..F7, F0+..F7+ or a variant .json (e.g. variants/nano.json).")
  String variant;

  @Option(names = "--data", description = "fashion-mnist (default), fashion-mnist-subset, or an image folder.")
  String data;

  @Option(names = "--batch", description = "Batch size (default 64).")
  Integer batch;

  @Option(names = "--steps", description = "Training steps.")
  Long steps;

  @Option(names = "--epochs", description = "Training epochs (alternative to --steps).")
  Double epochs;

  @Option(names = "--out", description = "Run directory: checkpoints/, tensorboard/, curves.png, savedmodel/.")
  Path out;

  @Option(names = "--resume", description = "Continue the run in this directory with its saved settings.")
  Path resume;

  @Option(names = "--lr", description = "Base learning rate per 256 images (default 0.1; scaled by batch/256).")
  Double lr;

  @Option(names = "--clipping", description = "AGC threshold lambda (default 0.01); 0 disables AGC.")
  Double clipping;

  @Option(names = "--weight-decay", description = "Weight decay (default 2e-5).")
  Double weightDecay;

  @Option(names = "--warmup-epochs", description = "Linear warm-up length (default 5 epochs, at most half the run).")
  Double warmupEpochs;

  @Option(names = "--ema-decay", description = "EMA decay of the evaluated/exported weights (default 0.999).")
  Double emaDecay;

  @Option(names = "--res", description = "Training and eval resolution (default: the variant's train/test sizes).")
  Integer res;

  @Option(names = "--augment", description = "none, or deepmind (RandAugment at the variant's level + MixUp + CutMix). "
      + "Default: none for Fashion-MNIST (random shift and flip only), deepmind for image folders.")
  String augment;

  @Option(names = "--no-regularize", description = "Disable stochastic depth and dropout.")
  Boolean noRegularize;

  @Option(names = "--bf16", description = "bfloat16 convolutions with float32 master weights.")
  Boolean bf16;

  @Option(names = "--xla", description = "Compile the step with XLA (a GPU/TPU compatibility check; slow on CPU).")
  Boolean xla;

  @Option(names = "--device", description = "Device for the step, e.g. /device:GPU:0 (default: TF's placement).")
  String device;

  @Option(names = "--eval-every", description = "Steps between evaluations (default: 10 per run).")
  Integer evalEvery;

  @Option(names = "--eval-batches", description = "Batches per evaluation (default 0 = the whole eval split).")
  Integer evalBatches;

  @Option(names = "--checkpoint-every", description = "Steps between checkpoints (default 500).")
  Integer checkpointEvery;

  @Option(names = "--finetune", description = "Start from these weights (release file or .npz).")
  Path finetune;

  @Option(names = "--freeze-stages", description = "With --finetune: -1 nothing (default), 0 the stem, k the stem and stages 1..k.")
  Integer freezeStages;

  @Option(names = "--seed", description = "Seed (default 0).")
  Long seed;

  @Option(names = "--no-progress", description = "Print a line per evaluation instead of a progress bar.")
  Boolean noProgress;

  @Option(names = "--no-export", description = "Skip the SavedModel export at the end.")
  Boolean noExport;

  @Option(names = "--cluster", description = "Data-parallel training over processes: host:port of every task, "
      + "the same list in the same order on every task (--batch is the global batch, split across tasks; "
      + "task 0 writes checkpoints, logs and the export; --out must be a shared path).")
  String cluster;

  @Option(names = "--task-index", description = "This process's index in --cluster (default 0).")
  Integer taskIndex;

  @Option(names = "--devices", description = "Model replicas in this process (default 1): N virtual CPU devices, "
      + "or GPUs 0..N-1 with --device /device:GPU:0; --batch is split across them.")
  Integer devices;

  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public Integer call() throws Exception {
    PrintWriter o = spec.commandLine().getOut();
    Settings s = settings();
    ClusterSpec c = cluster == null ? null
        : ClusterSpec.parse(cluster, taskIndex == null ? 0 : taskIndex);
    if (c == null && taskIndex != null) {
      throw new IllegalArgumentException("--task-index needs --cluster");
    }
    Result r;
    try {
      r = run(s, o, c, devices == null ? 1 : devices);
    } catch (PeerFailureException e) {
      spec.commandLine().getErr().println("error: " + e.getMessage());
      spec.commandLine().getErr().println("restart every task with --resume " + s.out()
          + " (and the same --cluster) to continue from the last checkpoint");
      return 3;
    }
    return r.status == Trainer.Status.COMPLETED || r.status == Trainer.Status.INTERRUPTED ? 
        (r.status == Trainer.Status.COMPLETED ? 0 : 130) : 1;
  }

  /** Every setting of a run, saved to run.json so that --resume can restore it. */
  record Settings(String variant, String data, int batch, Long steps, Double epochs, Path out,
      boolean resume, double lr, double clipping, double weightDecay, double warmupEpochs,
      double emaDecay, Integer res, String augment, boolean regularize, boolean bf16, boolean xla,
      String device, Integer evalEvery, int evalBatches, int checkpointEvery, Path finetune,
      int freezeStages, long seed, boolean progress, boolean export) {}

  record Result(Trainer.Status status, Trainer.Result trainer, Path export, TrainingData data) {}

  private Settings settings() throws Exception {
    ObjectNode saved = null;
    if (resume != null) {
      Path f = resume.resolve("run.json");
      if (!Files.isRegularFile(f)) {
        throw new IllegalArgumentException("--resume " + resume + ": no run.json (not a run directory)");
      }
      saved = (ObjectNode) JSON.readTree(f.toFile());
      if (out != null && !out.equals(resume)) {
        throw new IllegalArgumentException("--resume and --out name different directories");
      }
    }
    ObjectNode sv = saved;
    java.util.function.Function<String, com.fasterxml.jackson.databind.JsonNode> old =
        k -> sv == null || sv.get(k) == null || sv.get(k).isNull() ? null : sv.get(k);
    String v = variant != null ? variant : old.apply("variant") != null ? old.apply("variant").asText() : null;
    if (v == null) {
      throw new IllegalArgumentException("--variant is required (e.g. --variant variants/nano.json or F0)");
    }
    Path dir = resume != null ? resume : out;
    if (dir == null) {
      throw new IllegalArgumentException("--out RUN_DIR is required");
    }
    if (resume == null && Files.isDirectory(dir.resolve("checkpoints"))) {
      throw new IllegalArgumentException(dir + " already holds a run; use --resume " + dir
          + " to continue it or choose another --out");
    }
    Long st = steps != null ? steps : old.apply("steps") != null ? (Long) old.apply("steps").asLong() : null;
    Double ep = steps != null ? null : epochs != null ? epochs
        : old.apply("epochs") != null ? (Double) old.apply("epochs").asDouble() : null;
    if (st == null && ep == null) {
      throw new IllegalArgumentException("give --steps or --epochs");
    }
    return new Settings(v,
        pick(data, old.apply("data"), "fashion-mnist"),
        pickInt(batch, old.apply("batch"), 64), st, ep, dir, resume != null,
        pickD(lr, old.apply("lr"), 0.1), pickD(clipping, old.apply("clipping"), 0.01),
        pickD(weightDecay, old.apply("weightDecay"), 2e-5),
        pickD(warmupEpochs, old.apply("warmupEpochs"), 5.0),
        pickD(emaDecay, old.apply("emaDecay"), 0.999),
        res != null ? res : old.apply("res") != null ? (Integer) old.apply("res").asInt() : null,
        pick(augment, old.apply("augment"), null),
        noRegularize != null ? !noRegularize : old.apply("regularize") == null || old.apply("regularize").asBoolean(),
        bf16 != null ? bf16 : old.apply("bf16") != null && old.apply("bf16").asBoolean(),
        xla != null ? xla : old.apply("xla") != null && old.apply("xla").asBoolean(),
        pick(device, old.apply("device"), null),
        evalEvery != null ? evalEvery : old.apply("evalEvery") != null ? (Integer) old.apply("evalEvery").asInt() : null,
        pickInt(evalBatches, old.apply("evalBatches"), 0),
        pickInt(checkpointEvery, old.apply("checkpointEvery"), 500),
        finetune != null ? finetune : old.apply("finetune") != null ? toPath(old.apply("finetune").asText()) : null,
        pickInt(freezeStages, old.apply("freezeStages"), -1),
        seed != null ? seed : old.apply("seed") != null ? old.apply("seed").asLong() : 0L,
        noProgress == null || !noProgress,
        noExport == null || !noExport);
  }

  /** Jackson writes paths as file: URIs. */
  private static Path toPath(String s) {
    return s.startsWith("file:") ? Path.of(java.net.URI.create(s)) : Path.of(s);
  }

  private static String pick(String v, com.fasterxml.jackson.databind.JsonNode old, String def) {
    return v != null ? v : old != null ? old.asText() : def;
  }

  private static int pickInt(Integer v, com.fasterxml.jackson.databind.JsonNode old, int def) {
    return v != null ? v : old != null ? old.asInt() : def;
  }

  private static double pickD(Double v, com.fasterxml.jackson.databind.JsonNode old, double def) {
    return v != null ? v : old != null ? old.asDouble() : def;
  }

  /** Runs training as configured; shared with {@code nfnet demo}. */
  static Result run(Settings s, PrintWriter o) throws Exception {
    return run(s, o, null, 1);
  }

  /**
   * As {@link #run(Settings, PrintWriter)}, data-parallel over the tasks of {@code cluster} (null:
   * one process) and {@code devices} replicas in this process. Only the chief (task 0) writes
   * run.json, metrics, checkpoints, TensorBoard logs, curves and the export.
   */
  static Result run(Settings s, PrintWriter o, ClusterSpec cluster, int devices) throws Exception {
    boolean chief = cluster == null || cluster.isChief();
    NFNetConfig model = NFNetConfig.resolve(s.variant());
    int trainRes = s.res() != null ? s.res() : model.trainImsize();
    int evalRes = s.res() != null ? s.res() : model.testImsize();
    NFNetStructure.checkInputSize(model, trainRes, trainRes);
    boolean folder = !s.data().startsWith("fashion-mnist");
    String aug = s.augment() != null ? s.augment() : folder ? "deepmind" : "none";
    Augment augment = switch (aug.toLowerCase(Locale.ROOT)) {
      case "none" -> Augment.NONE;
      case "deepmind" -> Augment.deepMind(model.raLevel() != null ? model.raLevel() : "405");
      default -> throw new IllegalArgumentException("--augment must be none or deepmind, got '" + aug + "'");
    };
    TrainingData data = TrainingData.resolve(s.data(),
        DataOptions.of(trainRes, evalRes).withAugment(augment));
    if (model.numClasses() != data.train().numClasses()) {
      model = model.withNumClasses(data.train().numClasses());
    }
    // With MixUp/CutMix each step consumes two examples per output example (as DeepMind).
    long perStep = (long) s.batch() * (augment.any() && (augment.mixup() || augment.cutmix()) ? 2 : 1);
    long steps = s.steps() != null ? s.steps()
        : (long) Math.ceil(s.epochs() * data.train().size() / (double) perStep);
    Files.createDirectories(s.out());
    if (!s.resume() && chief) {
      Path tmp = s.out().resolve("run.json.tmp");
      JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), s);
      Files.move(tmp, s.out().resolve("run.json"), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    OptimizerConfig opt = OptimizerConfig.deepMind().withClipping(s.clipping()).withWeightDecay(s.weightDecay());
    int evalEvery = s.evalEvery() != null ? s.evalEvery() : (int) Math.max(1, steps / 10);
    TrainingConfig cfg = TrainingConfig.defaults(model, steps, s.out()).with(b -> b
        .baseLr(s.lr()).warmupEpochs(s.warmupEpochs())
        .step(st -> st.optimizer(opt).emaDecay(s.emaDecay()).regularize(s.regularize())
            .bf16(s.bf16()).xla(s.xla()).device(s.device()).seed(s.seed()))
        .eval(data.test() != null ? evalEvery : 0, s.evalBatches())
        .checkpointEvery(s.checkpointEvery()).resume(s.resume())
        .progressBar(s.progress()).cluster(cluster).devices(devices));
    if (cfg.dataParallel() && s.batch() % (devices * (cluster == null ? 1 : cluster.numTasks())) != 0) {
      throw new IllegalArgumentException("--batch " + s.batch() + " (the global batch) must be divisible by "
          + "the number of replicas (tasks x --devices)");
    }
    if (s.finetune() != null) {
      cfg = cfg.with(b -> b.fineTune(new FineTuning(s.finetune(), true, s.freezeStages())));
    }
    o.printf("data     %s%n", data.description());
    o.printf("model    %s, %,d parameters, %d classes, train %dpx / eval %dpx%s%n", model.name(),
        NFNetStructure.parameterCount(model), model.numClasses(), trainRes, evalRes,
        s.bf16() ? ", bf16 convolutions" : "");
    o.printf("recipe   %d steps x batch %d, lr %.3g x %d/256 (warm-up %.1f epochs, cosine), AGC %s, "
            + "wd %.1g, label smoothing 0.1, EMA %.4g, augment %s%n", steps, s.batch(), s.lr(), s.batch(),
        s.warmupEpochs(), s.clipping() > 0 ? "lambda " + s.clipping() : "off", s.weightDecay(), s.emaDecay(), aug);
    o.printf("run dir  %s%n", s.out().toAbsolutePath());
    if (cfg.dataParallel()) {
      int replicas = devices * (cluster == null ? 1 : cluster.numTasks());
      o.printf("parallel %d replicas x batch %d (%s%d device(s) per process)%s%n", replicas,
          s.batch() / replicas, cluster == null ? "" : cluster.numTasks() + " tasks, this is task "
          + cluster.taskIndex() + ", ", devices, chief ? "" : "; task 0 writes the outputs");
    }
    o.flush();

    final NFNetConfig finalModel = model;
    final Path exportDir = s.out().resolve("savedmodel");
    Path[] exported = new Path[1];
    MetricsLog metrics = chief ? new MetricsLog(s.out()) : null;
    TrainingListener listener = new TrainingListener() {
      @Override
      public void onStart(TrainStep step, long startStep) {
        if (metrics != null) {
          metrics.onStart(step, startStep);
        }
      }

      @Override
      public void onStep(TrainStep.StepMetrics m, double imagesPerSecond) {
        if (metrics != null) {
          metrics.onStep(m, imagesPerSecond);
        }
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
        if (!s.progress()) {
          o.printf(Locale.ROOT, "step %6d  eval top-1 %.2f%%  top-5 %.2f%%  loss %.4f (%d images)%n",
              m.step(), 100 * m.top1(), 100 * m.top5(), m.loss(), m.examples());
          o.flush();
        }
      }

      @Override
      public void onFinish(TrainStep step, Trainer.Result result) {
        if (metrics != null) {
          metrics.close();
        }
        if (chief && s.export() && result.status() != Trainer.Status.DIVERGED) {
          try {
            Map<String, Object> card = new LinkedHashMap<>();
            card.put("trained_on", data.description());
            card.put("training_steps", result.step());
            card.put("weights", "EMA (decay " + s.emaDecay() + ")");
            NFNetExporter.Result r = ModelExport.export(step, finalModel, exportDir,
                data.cropPadding(), data.classNames(), card);
            exported[0] = r.dir();
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("exporting the SavedModel: " + e.getMessage(), e);
          }
        }
      }
    };
    Trainer.Result r = Trainer.train(cfg, new DatasetInput(data.train(), data.test(), s.batch(), s.seed()), listener);
    o.println();
    o.printf("%s at step %d: %s%n", r.status(), r.step(), r.message());
    if (!r.evals().isEmpty()) {
      TrainStep.EvalMetrics last = r.evals().get(r.evals().size() - 1);
      o.printf(Locale.ROOT, "final eval (EMA weights): top-1 %.2f%%, top-5 %.2f%% on %d images%n",
          100 * last.top1(), 100 * last.top5(), last.examples());
    }
    o.printf("TensorBoard: tensorboard --logdir %s%n", cfg.tensorboardDir().toAbsolutePath());
    Path plot = s.out().resolve("curves.png");
    if (Files.exists(plot)) {
      o.printf("curves:      %s%n", plot.toAbsolutePath());
    }
    r.lastCheckpoint().ifPresent(p -> o.printf("checkpoint:  %s%n", p.toAbsolutePath()));
    if (exported[0] != null) {
      o.printf("SavedModel:  %s%n", exported[0].toAbsolutePath());
    }
    o.flush();
    return new Result(r.status(), r, exported[0], data);
  }
}
