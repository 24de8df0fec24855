package org.nfnet.training;

import java.nio.file.Path;

/**
 * Child-process trainer for the crash and signal tests:
 * {@code TrainerChild <outputDir> <steps> <checkpointEvery>}; prints {@code STEP n} after each step.
 */
public final class TrainerChild {
  public static void main(String[] args) {
    Path out = Path.of(args[0]);
    long steps = Long.parseLong(args[1]);
    int every = Integer.parseInt(args[2]);
    Trainer.Result r = Trainer.train(TrainerTest.config(out, steps).withCheckpointEvery(every)
        .withResume(true), TrainerTest.input(), new TrainingListener() {
          @Override
          public void onStep(TrainStep.StepMetrics m, double ips) {
            System.out.println("STEP " + (m.step() + 1));
            System.out.flush();
          }
        });
    System.out.println("RESULT " + r.status() + " " + r.step());
  }
}
