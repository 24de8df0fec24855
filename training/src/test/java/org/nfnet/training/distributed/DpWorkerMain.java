package org.nfnet.training.distributed;

import java.nio.file.Path;
import java.util.Locale;
import org.nfnet.training.Checkpoints;
import org.nfnet.training.TrainStep;
import org.nfnet.training.Trainer;
import org.nfnet.training.TrainingConfig;
import org.nfnet.training.TrainingListener;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.DeviceSpec;

/**
 * Child JVM for the data-parallel training checks (dispatched from {@link WorkerProcessMain}):
 *
 * <ul>
 *   <li>{@code dpstep <cluster> <task> <t0.json> <steps> <weights-out>}: a data-parallel
 *       {@link TrainStep} on this task's half of the fixed global batch; prints {@code LOSS step
 *       loss} per step, writes the final weights, prints {@code RESULT <file>};</li>
 *   <li>{@code dptrainer <cluster> <task> <t0.json> <out-dir> <steps> <ckpt-every> <sleep-ms>}:
 *       the {@link Trainer} with {@code --cluster}; prints {@code STEP step loss},
 *       {@code CKPT step}, then {@code RESULT status step}, or {@code FAILED ...} on an
 *       exception.</li>
 * </ul>
 */
final class DpWorkerMain {
  private DpWorkerMain() {}

  static void main(String[] args) {
    String mode = args[0];
    ClusterSpec cluster = ClusterSpec.parse(args[1], Integer.parseInt(args[2]));
    NFNetConfig model = DpFixtures.model(Path.of(args[3]));
    int code = 0;
    try {
      switch (mode) {
        case "dpstep" -> step(cluster, model, Integer.parseInt(args[4]), Path.of(args[5]));
        case "dptrainer" -> trainer(cluster, model, Path.of(args[4]), Long.parseLong(args[5]),
            Integer.parseInt(args[6]), Long.parseLong(args[7]));
        default -> throw new IllegalArgumentException(mode);
      }
    } catch (Throwable t) {
      System.out.println("FAILED type=" + t.getClass().getSimpleName() + " msg="
          + String.valueOf(t.getMessage()).replace('\n', ' '));
      t.printStackTrace();
      code = 2;
    }
    System.out.flush();
    Runtime.getRuntime().halt(code);
  }

  private static void step(ClusterSpec cluster, NFNetConfig model, int steps, Path out)
      throws Exception {
    DataParallel dp = DataParallel.cluster(WorkerServer.shared(cluster, null), 1,
        DeviceSpec.DeviceType.CPU).withTimeoutSeconds(120);
    try (TrainStep step = TrainStep.create(model, DpFixtures.globalBatch(),
        DpFixtures.options().with(b -> b.parallel(dp)))) {
      step.initialize();
      for (int i = 0; i < steps; i++) {
        TrainStep.StepMetrics m = step.run(false);
        System.out.printf(Locale.ROOT, "LOSS %d %.9g %.9g%n", m.step(), m.loss(),
            m.clipFraction());
        System.out.flush();
      }
      DpFixtures.write(step.weights(), out);
      System.out.println("RESULT " + out);
    }
  }

  private static void trainer(ClusterSpec cluster, NFNetConfig model, Path out, long steps,
      int every, long sleepMs) {
    TrainingConfig cfg = TrainingConfig.defaults(model, steps, out).with(b -> b
        .baseLr(0.4).checkpointEvery(every).eval(0, 1).logEvery(2)
        .step(s -> s.regularize(false)).resume(true).cluster(cluster));
    Trainer.Result r = Trainer.train(cfg, DpFixtures.globalBatch(), new TrainingListener() {
      @Override
      public void onStep(TrainStep.StepMetrics m, double ips) {
        System.out.printf(Locale.ROOT, "STEP %d %.9g%n", m.step(), m.loss());
        System.out.flush();
        if (sleepMs > 0) {
          try {
            Thread.sleep(sleepMs);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }

      @Override
      public void onCheckpoint(Path checkpoint, long step) {
        System.out.println("CKPT " + Checkpoints.meta(checkpoint).step());
        System.out.flush();
      }
    });
    System.out.println("RESULT " + r.status() + " " + r.step() + " evals=" + r.evals().size());
  }
}
