package org.nfnet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.nfnet.savedmodel.ExportDirectory;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.savedmodel.ResourceSavedModel;
import org.nfnet.training.Checkpoints;
import org.nfnet.training.FineTuning;
import org.nfnet.training.LearningRateSchedule;
import org.nfnet.training.OptimizerConfig;
import org.nfnet.training.StepConfig;
import org.nfnet.training.TrainingConfig;
import org.nfnet.training.data.DataOptions;
import org.nfnet.training.TrainStep;
import org.nfnet.training.data.FedInput;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.tensorflow.Signature;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.SignatureDef;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code nfnet export --train-step RUN_DIR --out DIR}: a trainable SavedModel of a training run.
 * The run's newest intact checkpoint is restored into the training step ({@link TrainStep}, the
 * one {@code nfnet train} runs, all state in resource variables) built with the run's recipe
 * (schedule incl. resume stretches, optimizer, EMA, label smoothing, regularisation, seed, bf16,
 * frozen stages) and fed
 * by placeholders ({@link FedInput}); the SavedModel
 * (tags {@code serve} + {@code train}) has
 * <ul>
 *   <li>{@code train_step}: {@code images} float32 [B,R,R,3] (normalised as the run's input
 *       pipeline normalises) + {@code labels} int32 [B] -> {@code loss}, {@code top1}; running it
 *       updates the variables in place and increments {@code global_step};</li>
 *   <li>the serving signatures of {@code nfnet train}'s export ({@code serving_default},
 *       {@code encoded}, {@code logits_from_normalized}, {@code features}; {@link NFNetExporter})
 *       on the EMA weights (the parameters without EMA) in the same graph.</li>
 * </ul>
 * B and R are the run's batch and training resolution (the step's shapes are static).
 */
@Command(name = "export", mixinStandardHelpOptions = true,
    description = "Export a training run as a trainable SavedModel (train_step + serving signatures).")
final class ExportCommand implements Callable<Integer> {
  static final List<String> TAGS = List.of("serve", "train");
  static final String TRAIN_STEP = "train_step";

  @Spec CommandSpec spec;

  @Option(names = "--train-step", required = true, paramLabel = "RUN_DIR",
      description = "Run directory of 'nfnet train' (run.json + checkpoints/).")
  Path run;

  @Option(names = "--out", required = true, description = "SavedModel directory to create (must not exist).")
  Path out;

  @Override
  public Integer call() throws Exception {
    PrintWriter o = spec.commandLine().getOut();
    if (!Files.isRegularFile(run.resolve(RunDirectory.RUN_JSON))) {
      throw new UserException("--train-step " + run + ": no " + RunDirectory.RUN_JSON
          + " (not a run directory of 'nfnet train')");
    }
    if (run.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
      throw new UserException("--out " + out + " is the run directory; choose a new directory");
    }
    try {
      ExportDirectory.check(out, false);
    } catch (java.nio.file.FileAlreadyExistsException e) {
      throw new UserException("--out " + out + " already exists; choose a new directory (an export "
          + "never writes over one)", e);
    }
    ObjectNode saved = RunDirectory.read(run);
    Checkpoints.Selection sel = new Checkpoints(run.resolve("checkpoints"), 1).newestIntact();
    if (sel.checkpoint().isEmpty()) {
      throw new UserException("--train-step " + run + ": no intact checkpoint in "
          + run.resolve("checkpoints") + (sel.skipped().isEmpty() ? ""
          : " (" + String.join("; ", sel.skipped()) + ")") + "; nothing to export");
    }
    sel.skipped().forEach(k -> o.printf("warning: skipping damaged checkpoint %s%n", k));
    Path ckpt = sel.checkpoint().get();
    long step = Checkpoints.meta(ckpt).step();
    Recipe r = Recipe.of(run, saved, step);
    o.printf(Locale.ROOT, "run      %s: %s, %d classes, checkpoint %s (step %d)%n", run,
        r.model().name(), r.model().numClasses(), ckpt.getFileName(), step);
    FedInput input = new FedInput(r.model().numClasses(), r.batch(), r.trainRes());
    try (TrainStep s = TrainStep.create(r.model(), input, r.step())) {
      Map<String, SignatureDef> sigs = new LinkedHashMap<>();
      sigs.put(TRAIN_STEP, ResourceSavedModel.signature("tensorflow/serving/predict",
          Map.of("images", input.images(), "labels", input.labels()), s.trainStepOutputs()));
      sigs.putAll(inference(s, r));
      try {
        s.saver().restore(s.session(), ckpt.resolve(Checkpoints.VARIABLES).toString());
      } catch (RuntimeException e) {
        throw new UserException("cannot restore checkpoint " + ckpt + " into the exported step: "
            + String.valueOf(e.getMessage()).lines().findFirst().orElse(""), e);
      }
      // SIGINT/SIGTERM: remove this process's temporary export, as convert does
      Thread cleanup = new Thread(() -> ExportDirectory.abandonOwnTemporaries(out), "export-cleanup");
      Runtime.getRuntime().addShutdownHook(cleanup);
      try {
        ResourceSavedModel.write(s.session(), s.variables(), s.saver(), sigs, null, TAGS, out);
      } finally {
        try {
          Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException shuttingDown) {
          // the JVM is exiting; the hook runs
        }
      }
    }
    o.printf(Locale.ROOT, "wrote %s: train_step (images float32 [%d,%d,%d,3] + labels int32 [%d] -> "
        + "loss, top1; continues from step %d), serving_default, encoded, logits_from_normalized, features "
        + "(EMA weights); "
        + "tags serve,train%n", out, r.batch(), r.trainRes(), r.trainRes(), r.batch(), step);
    o.flush();
    return 0;
  }

  /**
   * The serving signatures of {@code nfnet train}'s export ({@link NFNetExporter}: the run's eval
   * preprocessing and class names) on the EMA shadows (the parameters without EMA), in scope
   * {@code inference/} of the training graph.
   */
  private static Map<String, SignatureDef> inference(TrainStep s, Recipe r)
      throws IOException {
    NFNetExporter exporter = new NFNetExporter(r.model()).cropPadding(r.cropPadding())
        .labels(r.classNames());
    Map<String, SignatureDef> out = new LinkedHashMap<>();
    for (Signature sig : exporter.signatures(Ops.create(s.graph()).withSubScope("inference"),
        s.evalParameters())) {
      out.put(sig.key(), ResourceSavedModel.signature(sig));
    }
    return out;
  }

  /** The run's model, batch, resolution, eval preprocessing and step recipe at {@code step}. */
  record Recipe(NFNetConfig model, int batch, int trainRes, int cropPadding, List<String> classNames,
      StepConfig step) {

    static Recipe of(Path run, ObjectNode saved, long step) {
      NFNetConfig model = NFNetConfig.resolve(RunDirectory.variant(run, saved.path("variant").asText()));
      JsonNode res = saved.get("res");
      int trainRes = res != null && !res.isNull() ? res.asInt() : model.trainImsize();
      int evalRes = res != null && !res.isNull() ? res.asInt() : model.testImsize();
      int batch = saved.path("batch").asInt(64);
      String dataName = saved.path("data").asText("fashion-mnist");
      // The warm-up length is in epochs of the run's data, so the schedule needs its size.
      TrainingData data;
      try {
        data = TrainingData.resolve(dataName, DataOptions.of(trainRes, evalRes), batch,
            saved.path("seed").asLong(0));
      } catch (RuntimeException e) {
        throw new UserException("--train-step " + run + ": the run's data '" + dataName
            + "' (needed for its learning-rate schedule) cannot be opened: " + e.getMessage(), e);
      }
      if (model.numClasses() != data.input().numClasses()) {
        model = model.withNumClasses(data.input().numClasses());
      }
      long planned = RunDirectory.plannedSteps(saved);
      OptimizerConfig opt = OptimizerConfig.deepMind()
          .withClipping(saved.path("clipping").asDouble(0.01))
          .withWeightDecay(saved.path("weightDecay").asDouble(2e-5));
      TrainingConfig cfg = TrainingConfig.defaults(model, planned, run).with(b -> b
          .baseLr(saved.path("lr").asDouble(0.1))
          .warmupEpochs(saved.path("warmupEpochs").asDouble(5.0)));
      var base = (LearningRateSchedule.WarmupCosineDecay) cfg.schedule(data.input().size(), batch);
      LearningRateSchedule lr = RunDirectory.schedule(base, saved, step, RunDirectory.totalAt(saved, step));
      NFNetConfig finalModel = model;
      StepConfig config = StepConfig.defaults().with(b -> b.optimizer(opt).schedule(lr)
          .emaDecay(saved.path("emaDecay").asDouble(0.999))
          .regularize(saved.path("regularize").asBoolean(true))
          .seed(saved.path("seed").asLong(0)).bf16(saved.path("bf16").asBoolean(false))
          .frozen(new FineTuning(null, false, saved.path("freezeStages").asInt(-1))
              .frozen(finalModel)));
      NFNetStructure.checkInputSize(model, trainRes, trainRes);
      return new Recipe(model, batch, trainRes, data.cropPadding(), data.classNames(), config);
    }
  }
}
