package org.nfnet.training;

import java.nio.file.Path;
import org.nfnet.training.distributed.ClusterSpec;
import org.nfnet.zoo.NFNetConfig;

/**
 * Everything {@link Trainer#run} needs besides the input. Defaults ({@link #defaults}) follow the
 * paper's recipe scaled to the run: LR {@code 0.1 * batch / 256}, 5 warm-up epochs then cosine to
 * 0, label smoothing 0.1, SGD+AGC as DeepMind, EMA for evaluation and export.
 *
 * @param model the NFNet variant, with the number of classes of the data
 * @param steps total training steps (the schedule's length)
 * @param baseLr learning rate per 256 examples (0.1)
 * @param warmupEpochs linear warm-up length in epochs of the input (5); capped to half the run
 * @param labelSmoothing 0.1
 * @param emaDecay EMA decay (see {@link ExponentialMovingAverage}; 0 disables)
 * @param optimizer SGD+AGC settings
 * @param regularize stochastic depth + dropout in the training forward
 * @param bf16 bfloat16 rounding of weights/inputs with float32 master weights
 * @param device device spec for the step ({@code /device:GPU:0}), or null
 * @param xla global XLA JIT
 * @param seed initialisation and regularisation seed
 * @param outputDir checkpoints ({@code checkpoints/}), TensorBoard ({@code tensorboard/}) and the
 *     curve plot ({@code curves.png})
 * @param checkpointEvery steps between checkpoints (0: only at the end / on interrupt)
 * @param keepCheckpoints how many checkpoints to keep
 * @param logEvery steps between TensorBoard writes
 * @param evalEvery steps between evaluations with the EMA weights (0: only at the end)
 * @param evalBatches batches per evaluation (0: the whole eval split)
 * @param resume continue from the latest checkpoint in {@code outputDir} if there is one
 * @param progressBar show a console progress bar
 * @param fineTune fine-tuning start point, or null to train from scratch
 * @param cluster data-parallel cluster this process is a task of ({@code --cluster --task-index}),
 *     or null; the global batch ({@link InputSource#batchSize()}) is split across the tasks, only
 *     task 0 writes checkpoints, summaries and curves
 * @param devices model replicas (towers) in this process (0 or 1: one); several CPU devices are
 *     virtual ({@code device_count}), GPUs are used when {@code device} names a GPU
 */
public record TrainingConfig(NFNetConfig model, long steps, double baseLr, double warmupEpochs,
    double labelSmoothing, double emaDecay, OptimizerConfig optimizer, boolean regularize,
    boolean bf16, String device, boolean xla, long seed, Path outputDir, int checkpointEvery,
    int keepCheckpoints, int logEvery, int evalEvery, int evalBatches, boolean resume,
    boolean progressBar, FineTuning fineTune, ClusterSpec cluster, int devices) {

  /** Single process, single device (the original signature). */
  public TrainingConfig(NFNetConfig model, long steps, double baseLr, double warmupEpochs,
      double labelSmoothing, double emaDecay, OptimizerConfig optimizer, boolean regularize,
      boolean bf16, String device, boolean xla, long seed, Path outputDir, int checkpointEvery,
      int keepCheckpoints, int logEvery, int evalEvery, int evalBatches, boolean resume,
      boolean progressBar, FineTuning fineTune) {
    this(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay, optimizer, regularize,
        bf16, device, xla, seed, outputDir, checkpointEvery, keepCheckpoints, logEvery, evalEvery,
        evalBatches, resume, progressBar, fineTune, null, 1);
  }

  /** Data-parallel over the tasks of {@code c} (null: single process). */
  public TrainingConfig withCluster(ClusterSpec c) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery,
        keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, c,
        devices);
  }

  /** {@code n} model replicas (towers) in this process. */
  public TrainingConfig withDevices(int n) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery,
        keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster,
        n);
  }

  /** Whether this process writes checkpoints, summaries, curves and exports (task 0). */
  public boolean isChief() {
    return cluster == null || cluster.isChief();
  }

  /** Whether the step is replicated (cluster or several devices). */
  public boolean dataParallel() {
    return cluster != null || devices > 1;
  }

  public static TrainingConfig defaults(NFNetConfig model, long steps, Path outputDir) {
    return new TrainingConfig(model, steps, 0.1, 5.0, 0.1, ExponentialMovingAverage.SHORT_RUN_DECAY,
        OptimizerConfig.deepMind(), true, false, null, false, 0L, outputDir, 500, 3, 10, 0, 0,
        false, true, null);
  }

  public TrainingConfig withSteps(long s) {
    return new TrainingConfig(model, s, baseLr, warmupEpochs, labelSmoothing, emaDecay, optimizer,
        regularize, bf16, device, xla, seed, outputDir, checkpointEvery, keepCheckpoints, logEvery,
        evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withCheckpointEvery(int n) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, regularize, bf16, device, xla, seed, outputDir, n, keepCheckpoints, logEvery,
        evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withResume(boolean r) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery,
        keepCheckpoints, logEvery, evalEvery, evalBatches, r, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withProgressBar(boolean p) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery,
        keepCheckpoints, logEvery, evalEvery, evalBatches, resume, p, fineTune, cluster, devices);
  }

  public TrainingConfig withEval(int every, int batches) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery,
        keepCheckpoints, logEvery, every, batches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withBaseLr(double lr) {
    return new TrainingConfig(model, steps, lr, warmupEpochs, labelSmoothing, emaDecay, optimizer,
        regularize, bf16, device, xla, seed, outputDir, checkpointEvery, keepCheckpoints, logEvery,
        evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withFineTune(FineTuning f) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery,
        keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, f, cluster, devices);
  }

  public TrainingConfig withXla(boolean x) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, regularize, bf16, device, x, seed, outputDir, checkpointEvery, keepCheckpoints,
        logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withRegularize(boolean r) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, r, bf16, device, xla, seed, outputDir, checkpointEvery, keepCheckpoints,
        logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withLogEvery(int n) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay,
        optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery,
        keepCheckpoints, n, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withOptimizer(OptimizerConfig v) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay, v, regularize, bf16, device, xla, seed, outputDir, checkpointEvery, keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withBf16(boolean v) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay, optimizer, regularize, v, device, xla, seed, outputDir, checkpointEvery, keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withDevice(String v) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay, optimizer, regularize, bf16, v, xla, seed, outputDir, checkpointEvery, keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withSeed(long v) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay, optimizer, regularize, bf16, device, xla, v, outputDir, checkpointEvery, keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withEmaDecay(double v) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, v, optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery, keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withKeepCheckpoints(int v) {
    return new TrainingConfig(model, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay, optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery, v, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withWarmupEpochs(double v) {
    return new TrainingConfig(model, steps, baseLr, v, labelSmoothing, emaDecay, optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery, keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
  }

  public TrainingConfig withModel(NFNetConfig v) {
    return new TrainingConfig(v, steps, baseLr, warmupEpochs, labelSmoothing, emaDecay, optimizer, regularize, bf16, device, xla, seed, outputDir, checkpointEvery, keepCheckpoints, logEvery, evalEvery, evalBatches, resume, progressBar, fineTune, cluster, devices);
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
}
