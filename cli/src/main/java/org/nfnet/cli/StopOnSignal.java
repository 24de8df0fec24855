package org.nfnet.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.nfnet.training.Trainer;

/**
 * SIGINT/SIGTERM during training: a JVM shutdown hook asks the trainer to stop after the current
 * step (it then saves a checkpoint) and holds the JVM until the command has printed where it
 * stopped and how to resume ({@link #close()}). The JVM then exits with 130 / 143.
 */
final class StopOnSignal implements AutoCloseable {
  private static final long WAIT_SECONDS = 120;
  private final CountDownLatch done = new CountDownLatch(1);
  private final Thread hook;
  private volatile boolean signalled;

  StopOnSignal(Trainer trainer) {
    hook = new Thread(() -> {
      signalled = true;
      trainer.requestStop();
      try {
        done.await(WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "nfnet-stop-on-signal");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** Whether a signal arrived. */
  boolean signalled() {
    return signalled;
  }

  /** Releases a pending shutdown (call after the final messages). */
  @Override
  public void close() {
    done.countDown();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running and now returns
    }
  }
}
