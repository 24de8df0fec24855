package org.nfnet.training;

import java.nio.file.Path;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.nfnet.training.distributed.DataParallel;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.Precision;

/**
 * How one {@link TrainStep} is built. Defaults ({@link #defaults()}) are DeepMind's recipe: SGD+AGC
 * ({@link OptimizerConfig#deepMind()}), label smoothing 0.1, stochastic depth and dropout on, EMA
 * for evaluation. Change fields by name: {@code StepConfig.defaults().with(b -> b.xla(true))}.
 *
 * <p>{@link TrainingConfig} holds one of these; {@link Trainer} fills in the fields that follow
 * from the run (schedule, frozen parameters, log directory, data parallelism).
 *
 * @param optimizer SGD+AGC hyper-parameters and groups
 * @param schedule learning rate on the global step (default: constant 0.1)
 * @param labelSmoothing 0.1 in the paper
 * @param emaDecay EMA decay (see {@link ExponentialMovingAverage}); 0 disables the EMA (evaluation
 *     then uses the raw weights)
 * @param regularize training-mode forward (stochastic depth + dropout) with seeds derived in-graph
 *     from the global step; false gives DeepMind's eval-mode forward (parity checks)
 * @param bf16 bfloat16 convolutions with float32 master weights ({@link Precision#BFLOAT16})
 * @param device device for the step ops ({@code /device:GPU:0}), or null for TF's placement
 * @param xla global XLA JIT (ON_2) for the session
 * @param seed base of every in-graph random seed (init, stochastic depth, dropout)
 * @param frozen parameters excluded from the update (fine-tuning)
 * @param logDir TensorBoard directory, or null for no summaries
 * @param summaryImages input images written per logged step
 * @param parallel synchronous data parallelism (cluster tasks and/or local towers), or null
 * @param recompute keep only each block's input from the forward pass and recompute the block in
 *     the backward pass ({@link ActivationRecomputation}): less memory, about a third more work
 */
public record StepConfig(OptimizerConfig optimizer, LearningRateSchedule schedule,
    double labelSmoothing, double emaDecay, boolean regularize, boolean bf16, String device,
    boolean xla, long seed, Predicate<ParameterSpec> frozen, Path logDir, int summaryImages,
    DataParallel parallel, boolean recompute) {

  public static StepConfig defaults() {
    return new Builder().build();
  }

  /** This configuration with the fields set in {@code edit} changed. */
  public StepConfig with(UnaryOperator<Builder> edit) {
    return edit.apply(new Builder(this)).build();
  }

  /** Named setters over a copy of a configuration; starts from the defaults. */
  public static final class Builder {
    private OptimizerConfig optimizer = OptimizerConfig.deepMind();
    private LearningRateSchedule schedule = LearningRateSchedule.constant(0.1);
    private double labelSmoothing = 0.1;
    private double emaDecay = ExponentialMovingAverage.SHORT_RUN_DECAY;
    private boolean regularize = true;
    private boolean bf16;
    private String device;
    private boolean xla;
    private long seed;
    private Predicate<ParameterSpec> frozen = p -> false;
    private Path logDir;
    private int summaryImages = 3;
    private DataParallel parallel;
    private boolean recompute;

    Builder() {}

    Builder(StepConfig c) {
      optimizer = c.optimizer;
      schedule = c.schedule;
      labelSmoothing = c.labelSmoothing;
      emaDecay = c.emaDecay;
      regularize = c.regularize;
      bf16 = c.bf16;
      device = c.device;
      xla = c.xla;
      seed = c.seed;
      frozen = c.frozen;
      logDir = c.logDir;
      summaryImages = c.summaryImages;
      parallel = c.parallel;
      recompute = c.recompute;
    }

    public Builder optimizer(OptimizerConfig v) {
      optimizer = v;
      return this;
    }

    public Builder schedule(LearningRateSchedule v) {
      schedule = v;
      return this;
    }

    public Builder labelSmoothing(double v) {
      labelSmoothing = v;
      return this;
    }

    public Builder emaDecay(double v) {
      emaDecay = v;
      return this;
    }

    public Builder regularize(boolean v) {
      regularize = v;
      return this;
    }

    public Builder bf16(boolean v) {
      bf16 = v;
      return this;
    }

    public Builder device(String v) {
      device = v;
      return this;
    }

    public Builder xla(boolean v) {
      xla = v;
      return this;
    }

    public Builder seed(long v) {
      seed = v;
      return this;
    }

    public Builder frozen(Predicate<ParameterSpec> v) {
      frozen = v;
      return this;
    }

    public Builder logDir(Path v) {
      logDir = v;
      return this;
    }

    public Builder summaryImages(int v) {
      summaryImages = v;
      return this;
    }

    public Builder parallel(DataParallel v) {
      parallel = v;
      return this;
    }

    public Builder recompute(boolean v) {
      recompute = v;
      return this;
    }

    public StepConfig build() {
      return new StepConfig(optimizer, schedule, labelSmoothing, emaDecay, regularize, bf16, device,
          xla, seed, frozen, logDir, summaryImages, parallel, recompute);
    }
  }
}
