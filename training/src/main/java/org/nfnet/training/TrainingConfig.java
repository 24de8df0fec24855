package org.nfnet.training;

import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.nfnet.training.data.InputSource;
import org.nfnet.training.distributed.ClusterSpec;
import org.nfnet.zoo.NFNetConfig;

/**
 * Everything {@link Trainer#run} needs besides the input. Defaults ({@link #defaults}) follow the
 * paper's recipe scaled to the run: LR {@code 0.1 * batch / 256}, 5 warm-up epochs then cosine to
 * 0, and {@link StepConfig#defaults()} for the step. Change fields by name:
 * {@code cfg.with(b -> b.baseLr(0.4).step(s -> s.xla(true)))}.
 *
 * @param model the NFNet variant, with the number of classes of the data
 * @param steps total training steps (the schedule's length)
 * @param baseLr learning rate per 256 examples (0.1)
 * @param warmupEpochs linear warm-up length in epochs of the input (5); capped to half the run
 * @param step how the step is built (optimizer, label smoothing, EMA, regularisation, precision,
 *     device, XLA, seed); {@link Trainer} sets its schedule, frozen parameters, log directory and
 *     data parallelism from the fields here
 * @param outputDir checkpoints ({@code checkpoints/}), TensorBoard ({@code tensorboard/}) and the
 *     curve plot ({@code curves.png})
 * @param checkpointEvery steps between checkpoints (0: only at the end / on interrupt)
 * @param keepCheckpoints how many checkpoints to keep
 * @param logEvery steps between TensorBoard writes
 * @param evalEvery steps between evaluations with the EMA weights (0: only at the end)
 * @param evalBatches batches per evaluation (0: the whole eval split)
 * @param resume continue from the latest checkpoint in {@code outputDir} if there is one
 * @param fineTune fine-tuning start point, or null to train from scratch
 * @param cluster data-parallel cluster this process is a task of ({@code --cluster --task-index}),
 *     or null; the global batch ({@link InputSource#batchSize()}) is split across the tasks, only
 *     task 0 writes checkpoints, summaries and curves
 * @param devices model replicas (towers) in this process (0 or 1: one); several CPU devices are
 *     virtual ({@code device_count}), GPUs are used when {@code device} names a GPU
 */
public record TrainingConfig(NFNetConfig model, long steps, double baseLr, double warmupEpochs,
    StepConfig step, Path outputDir, int checkpointEvery, int keepCheckpoints, int logEvery,
    int evalEvery, int evalBatches, boolean resume, FineTuning fineTune,
    ClusterSpec cluster, int devices) {

  public static TrainingConfig defaults(NFNetConfig model, long steps, Path outputDir) {
    return new Builder(model, steps, outputDir).build();
  }

  /** This configuration with the fields set in {@code edit} changed. */
  public TrainingConfig with(UnaryOperator<Builder> edit) {
    return edit.apply(new Builder(this)).build();
  }

  /** Whether this process writes checkpoints, summaries, curves and exports (task 0). */
  public boolean isChief() {
    return cluster == null || cluster.isChief();
  }

  /** Whether the step is replicated (cluster or several devices). */
  public boolean dataParallel() {
    return cluster != null || devices > 1;
  }

  /** The schedule for an input of {@code examplesPerEpoch} at {@code batchSize}. */
  public LearningRateSchedule schedule(long examplesPerEpoch, int batchSize) {
    double stepsPerEpoch = Math.max(1.0, (double) examplesPerEpoch / batchSize);
    long warmup = Math.min(steps / 2, Math.round(warmupEpochs * stepsPerEpoch));
    return new LearningRateSchedule.WarmupCosineDecay(0.0, 0.0,
        LearningRateSchedule.scaledBaseRate(baseLr, batchSize), Math.max(steps, warmup + 1),
        warmup);
  }

  public Path checkpointDir() {
    return outputDir.resolve("checkpoints");
  }

  public Path tensorboardDir() {
    return outputDir.resolve("tensorboard");
  }

  /** Named setters over a copy of a configuration. */
  public static final class Builder {
    private final NFNetConfig model;
    private long steps;
    private double baseLr = 0.1;
    private double warmupEpochs = 5.0;
    private StepConfig step = StepConfig.defaults();
    private final Path outputDir;
    private int checkpointEvery = 500;
    private int keepCheckpoints = 3;
    private int logEvery = 10;
    private int evalEvery;
    private int evalBatches;
    private boolean resume;
    private FineTuning fineTune;
    private ClusterSpec cluster;
    private int devices = 1;

    Builder(NFNetConfig model, long steps, Path outputDir) {
      this.model = model;
      this.steps = steps;
      this.outputDir = outputDir;
    }

    Builder(TrainingConfig c) {
      this(c.model, c.steps, c.outputDir);
      baseLr = c.baseLr;
      warmupEpochs = c.warmupEpochs;
      step = c.step;
      checkpointEvery = c.checkpointEvery;
      keepCheckpoints = c.keepCheckpoints;
      logEvery = c.logEvery;
      evalEvery = c.evalEvery;
      evalBatches = c.evalBatches;
      resume = c.resume;
      fineTune = c.fineTune;
      cluster = c.cluster;
      devices = c.devices;
    }

    public Builder steps(long v) {
      steps = v;
      return this;
    }

    public Builder baseLr(double v) {
      baseLr = v;
      return this;
    }

    public Builder warmupEpochs(double v) {
      warmupEpochs = v;
      return this;
    }

    /** Edits the step's configuration (optimizer, EMA, precision, device, XLA, seed...). */
    public Builder step(UnaryOperator<StepConfig.Builder> edit) {
      step = step.with(edit);
      return this;
    }

    public Builder checkpointEvery(int v) {
      checkpointEvery = v;
      return this;
    }

    public Builder keepCheckpoints(int v) {
      keepCheckpoints = v;
      return this;
    }

    public Builder logEvery(int v) {
      logEvery = v;
      return this;
    }

    /** Evaluation every {@code every} steps (0: only at the end) over {@code batches} (0: all). */
    public Builder eval(int every, int batches) {
      evalEvery = every;
      evalBatches = batches;
      return this;
    }

    public Builder resume(boolean v) {
      resume = v;
      return this;
    }

    public Builder fineTune(FineTuning v) {
      fineTune = v;
      return this;
    }

    /** Data-parallel over the tasks of {@code c} (null: single process). */
    public Builder cluster(ClusterSpec v) {
      cluster = v;
      return this;
    }

    /** {@code n} model replicas (towers) in this process. */
    public Builder devices(int v) {
      devices = v;
      return this;
    }

    public TrainingConfig build() {
      return new TrainingConfig(model, steps, baseLr, warmupEpochs, step, outputDir,
          checkpointEvery, keepCheckpoints, logEvery, evalEvery, evalBatches, resume,
          fineTune, cluster, devices);
    }
  }
}
