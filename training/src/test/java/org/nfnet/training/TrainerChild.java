package org.nfnet.training;

import java.nio.file.Path;

/**
 * Child-process trainer for the crash and signal tests:
 * {@code TrainerChild <outputDir> <steps> <checkpointEvery>}; prints {@code STEP n} after each step.
 * With {@code -Dnfnet.checkpoint.pauseMillis=N} every save prints {@code CHECKPOINT_PAUSE} after
 * writing the variables and sleeps N ms before publishing, so the test can kill it mid-save.
 */
public final class TrainerChild {
  public static void main(String[] args) {
    long pauseMs = Long.getLong("nfnet.checkpoint.pauseMillis", 0L);
    if (pauseMs > 0) {
      Checkpoints.beforePublish = () -> {
        System.out.println("CHECKPOINT_PAUSE");
        System.out.flush();
        try {
          Thread.sleep(pauseMs);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      };
    }
    Path out = Path.of(args[0]);
    long steps = Long.parseLong(args[1]);
    int every = Integer.parseInt(args[2]);
    // The library installs no signal handler: like the CLI, stop the loop on SIGTERM and let the
    // JVM exit only once the trainer has saved.
    Trainer trainer = new Trainer();
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      trainer.requestStop();
      try {
        done.await(120, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    Trainer.Result r = trainer.run(TrainerTest.config(out, steps).with(b -> b.checkpointEvery(every)
        .resume(true)), TrainerTest.input(), new TrainingListener() {
          @Override
          public void onStep(TrainStep.StepMetrics m, double ips) {
            System.out.println("STEP " + (m.step() + 1));
            System.out.flush();
          }
        });
    System.out.println("RESULT " + r.status() + " " + r.step());
    done.countDown();
  }
}
