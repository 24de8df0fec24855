package org.nfnet.training;

import java.nio.file.Path;

/** Callbacks from {@link Trainer#run}; all default to no-ops. Called on the training thread. */
public interface TrainingListener {
  /** The graph is built and variables initialised or restored; training starts at {@code step}. */
  default void onStart(TrainStep step, long startStep) {}

  /** After each step; {@code imagesPerSecond} is smoothed over recent steps. */
  default void onStep(TrainStep.StepMetrics metrics, double imagesPerSecond) {}

  default void onEval(TrainStep.EvalMetrics metrics) {}

  default void onCheckpoint(Path checkpoint, long step) {}

  /** Last call, with the step graph still open (e.g. to export the EMA weights). */
  default void onFinish(TrainStep step, Trainer.Result result) {}
}
