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
import org.nfnet.training.StretchedSchedule;
import org.nfnet.training.OneDnnWeightCache;
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
 * The command line of a run is saved in {@code RUN_DIR/run.json} (see {@link RunDirectory}), so
 * {@code --resume RUN_DIR} continues it with the same settings from any working directory.
 * Everything that can be checked (options, variant, data, fine-tuning weights, a resume's
 * checkpoint) is checked before the run directory is written; a start that fails before its first
 * checkpoint removes what it wrote.
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

  @Option(names = "--steps", description = "Training steps (with --resume: the run's new total).")
  Long steps;

  @Option(names = "--epochs", description = "Training epochs (alternative to --steps; with --resume: the new total).")
  Double epochs;

  @Option(names = "--out", description = "Run directory: checkpoints/, tensorboard/, curves.png, savedmodel/.")
  Path out;

  @Option(names = "--resume", description = "Continue the run in this directory with its saved settings (from its "
      + "newest intact checkpoint). --steps/--epochs then give the run's new total length (the cosine schedule "
      + "is stretched to it from the current step); options that change the recipe are refused.")
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

  @Option(names = "--xla", negatable = true,
      description = "Compile the step with XLA (a GPU/TPU compatibility check; slow on CPU).")
  Boolean xla;

  @Option(names = "--recompute", negatable = true, description = "Keep only each block's input from the forward "
      + "pass and recompute the block in the backward pass: less memory (F0 at batch 8: about 0.3 GB), about 20%% "
      + "slower steps. With --resume, --no-recompute turns it off.")
  Boolean recompute;

  @Option(names = "--device", description = "Device for the step, e.g. /device:GPU:0 (default: TF's placement).")
  String device;

  @Option(names = "--eval-every", description = "Steps between evaluations (default: a tenth of the run).")
  Integer evalEvery;

  @Option(names = "--eval-batches", description = "Batches per evaluation. Default: scaled to the run - each periodic "
      + "evaluation reads at most as many eval images as were trained on since the previous one, and the final "
      + "evaluation reads the whole eval split.")
  Integer evalBatches;

  @Option(names = "--checkpoint-every", description = "Steps between checkpoints (default 500).")
  Integer checkpointEvery;

  @Option(names = "--finetune", description = "Start from these weights (release file or .npz).")
  Path finetune;

  @Option(names = "--freeze-stages", description = "With --finetune: -1 nothing (default), 0 the stem, k the stem and stages 1..k.")
  Integer freezeStages;

  @Option(names = "--seed", description = "Seed (default 0).")
  Long seed;

  @Option(names = "--no-progress", description = "Print only a line per evaluation (no progress bar or step lines).")
  Boolean noProgress;

  @Option(names = "--progress-seconds", defaultValue = "30", description = "When stdout is not a terminal: "
      + "seconds between plain progress lines (default ${DEFAULT-VALUE}).")
  double progressSeconds;

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
    // Before anything is written: a run that cannot train must leave no directory behind.
    OneDnnWeightCache.refuseForTraining(System.getenv());
    if (!(progressSeconds > 0)) {
      throw new UserException("--progress-seconds must be > 0, got " + progressSeconds);
    }
    ObjectNode changed = resume == null ? null : JSON.createObjectNode();
    Settings s = settings(changed);
    ClusterSpec c = cluster == null ? null
        : ClusterSpec.parse(cluster, taskIndex == null ? 0 : taskIndex);
    if (c == null && taskIndex != null) {
      throw new UserException("--task-index needs --cluster");
    }
    if (devices != null && devices < 1) {
      throw new UserException("--devices must be at least 1, got " + devices);
    }
    TrainingRun.Result r;
    try {
      r = TrainingRun.run(s, o, c, devices == null ? 1 : devices,
          new TrainingRun.Session(changed, steps != null || epochs != null, progressSeconds));
    } catch (PeerFailureException e) {
      spec.commandLine().getErr().println("error: " + e.getMessage());
      spec.commandLine().getErr().println("restart every task with --resume " + s.out()
          + " (and the same --cluster) to continue from the last checkpoint");
      return 3;
    }
    return r.status() == Trainer.Status.COMPLETED ? 0 : r.status() == Trainer.Status.INTERRUPTED ? 130 : 1;
  }

  /** Every setting of a run, saved to run.json so that --resume can restore it. */
  record Settings(String variant, String data, int batch, Long steps, Double epochs, Path out,
      boolean resume, double lr, double clipping, double weightDecay, double warmupEpochs,
      double emaDecay, Integer res, String augment, boolean regularize, boolean bf16, boolean xla,
      boolean recompute, String device, Integer evalEvery, int evalBatches, int checkpointEvery, Path finetune,
      int freezeStages, long seed, boolean progress, boolean export) {}

  /** The recipe: options that a resume may not change (run.json key -> option). */
  private Map<String, Object[]> recipe() {
    Map<String, Object[]> m = new LinkedHashMap<>();
    m.put("variant", new Object[] {"--variant", variant});
    m.put("data", new Object[] {"--data", data});
    m.put("batch", new Object[] {"--batch", batch});
    m.put("lr", new Object[] {"--lr", lr});
    m.put("clipping", new Object[] {"--clipping", clipping});
    m.put("weightDecay", new Object[] {"--weight-decay", weightDecay});
    m.put("warmupEpochs", new Object[] {"--warmup-epochs", warmupEpochs});
    m.put("emaDecay", new Object[] {"--ema-decay", emaDecay});
    m.put("res", new Object[] {"--res", res});
    m.put("augment", new Object[] {"--augment", augment});
    m.put("regularize", new Object[] {"--no-regularize", noRegularize == null ? null : !noRegularize});
    m.put("bf16", new Object[] {"--bf16", bf16});
    m.put("finetune", new Object[] {"--finetune", finetune});
    m.put("freezeStages", new Object[] {"--freeze-stages", freezeStages});
    m.put("seed", new Object[] {"--seed", seed});
    return m;
  }

  private Settings settings(ObjectNode changed) {
    ObjectNode saved = null;
    if (resume != null) {
      saved = RunDirectory.read(resume);
      if (out != null && !out.toAbsolutePath().normalize().equals(resume.toAbsolutePath().normalize())) {
        throw new UserException("--resume and --out name different directories");
      }
      for (Map.Entry<String, Object[]> e : recipe().entrySet()) {
        Object given = e.getValue()[1];
        com.fasterxml.jackson.databind.JsonNode was = saved.get(e.getKey());
        if (given != null && (was == null || was.isNull() || !sameValue(given, was))) {
          throw new UserException(e.getValue()[0] + " cannot change when resuming (the run's recipe "
              + "is in " + resume.resolve(RunDirectory.RUN_JSON) + ": " + e.getKey() + " = " + was
              + "); start a new run with --out to train with " + e.getValue()[0] + " " + given);
        }
      }
      Object[][] session = {{"steps", steps}, {"epochs", epochs}, {"evalEvery", evalEvery},
          {"evalBatches", evalBatches}, {"checkpointEvery", checkpointEvery}, {"xla", xla},
          {"recompute", recompute},
          {"device", device}, {"progress", noProgress == null ? null : !noProgress},
          {"export", noExport == null ? null : !noExport}};
      for (Object[] kv : session) {
        if (kv[1] != null) {
          changed.set((String) kv[0], JSON.valueToTree(kv[1]));
        }
      }
    }
    ObjectNode sv = saved;
    java.util.function.Function<String, com.fasterxml.jackson.databind.JsonNode> old =
        k -> sv == null || sv.get(k) == null || sv.get(k).isNull() ? null : sv.get(k);
    String v = variant != null ? variant : old.apply("variant") != null
        ? RunDirectory.variant(resume, old.apply("variant").asText()) : null;
    if (v == null) {
      throw new UserException("--variant is required (e.g. --variant variants/nano.json or F0)");
    }
    Path dir = resume != null ? resume : out;
    if (dir == null) {
      throw new UserException("--out RUN_DIR is required");
    }
    boolean chief = cluster == null || taskIndex == null || taskIndex == 0;
    if (resume == null && chief && Files.exists(dir.resolve(RunDirectory.RUN_JSON))) {
      throw new UserException(dir + " already holds a run; use --resume " + dir
          + " to continue it or choose another --out");
    }
    Long st = steps != null ? steps : epochs != null ? null
        : old.apply("steps") != null ? (Long) old.apply("steps").asLong() : null;
    Double ep = st != null ? null : epochs != null ? epochs
        : old.apply("epochs") != null ? (Double) old.apply("epochs").asDouble() : null;
    if (st == null && ep == null) {
      throw new UserException("give --steps or --epochs");
    }
    if (freezeStages != null && finetune == null && freezeStages != -1) {
      throw new UserException("--freeze-stages " + freezeStages + " needs --finetune (it freezes "
          + "parts of the loaded weights)");
    }
    String d = pick(data, old.apply("data"), "fashion-mnist");
    if (!d.startsWith("fashion-mnist") && resume == null) {
      d = Path.of(d).toAbsolutePath().normalize().toString(); // resumable from any directory
    }
    return new Settings(v, d, pickInt(batch, old.apply("batch"), 64), st, ep, dir, resume != null,
        pickD(lr, old.apply("lr"), 0.1), pickD(clipping, old.apply("clipping"), 0.01),
        pickD(weightDecay, old.apply("weightDecay"), 2e-5),
        pickD(warmupEpochs, old.apply("warmupEpochs"), 5.0),
        pickD(emaDecay, old.apply("emaDecay"), 0.999),
        res != null ? res : old.apply("res") != null ? (Integer) old.apply("res").asInt() : null,
        pick(augment, old.apply("augment"), null),
        noRegularize != null ? !noRegularize : old.apply("regularize") == null || old.apply("regularize").asBoolean(),
        bf16 != null ? bf16 : old.apply("bf16") != null && old.apply("bf16").asBoolean(),
        xla != null ? xla : old.apply("xla") != null && old.apply("xla").asBoolean(),
        recompute != null ? recompute
            : old.apply("recompute") != null && old.apply("recompute").asBoolean(),
        pick(device, old.apply("device"), null),
        evalEvery != null ? evalEvery : old.apply("evalEvery") != null ? (Integer) old.apply("evalEvery").asInt() : null,
        pickInt(evalBatches, old.apply("evalBatches"), 0),
        pickInt(checkpointEvery, old.apply("checkpointEvery"), 500),
        finetune, pickInt(freezeStages, old.apply("freezeStages"), -1),
        seed != null ? seed : old.apply("seed") != null ? old.apply("seed").asLong() : 0L,
        noProgress != null ? !noProgress : old.apply("progress") == null || old.apply("progress").asBoolean(),
        noExport != null ? !noExport : old.apply("export") == null || old.apply("export").asBoolean());
  }

  private static boolean sameValue(Object given, com.fasterxml.jackson.databind.JsonNode saved) {
    if (given instanceof Number n) {
      return saved.isNumber() && n.doubleValue() == saved.asDouble();
    }
    if (given instanceof Boolean b) {
      return saved.isBoolean() && b == saved.asBoolean();
    }
    return given.toString().equals(saved.asText());
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


}
