package org.nfnet.training.distributed;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.nfnet.training.LearningRateSchedule;
import org.nfnet.training.StepConfig;
import org.nfnet.training.TrainStep;
import org.nfnet.training.data.SyntheticInput;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.DeviceSpec;

/**
 * Manual throughput benchmark of the data-parallel training step (not a test):
 *
 * <pre>
 * java -cp &lt;training test classpath&gt; org.nfnet.training.distributed.DataParallelBench \
 *     --variant variants/t0.json --res 32 --batch 64 --steps 30 --warmup 5 \
 *     [--cluster 127.0.0.1:P0,127.0.0.1:P1 --task-index i] [--devices N]
 * </pre>
 *
 * {@code --batch} is the global batch (split across tasks and devices); synthetic in-graph input,
 * training-mode forward, SGD+AGC, EMA. Prints the median step time, this process's img/s and the
 * global img/s.
 */
public final class DataParallelBench {
  public static void main(String[] args) {
    String variant = "variants/t0.json";
    int res = 32;
    int batch = 64;
    int steps = 30;
    int warmup = 5;
    String cluster = null;
    int task = 0;
    int devices = 1;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--variant" -> variant = args[++i];
        case "--res" -> res = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--cluster" -> cluster = args[++i];
        case "--task-index" -> task = Integer.parseInt(args[++i]);
        case "--devices" -> devices = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException(args[i]);
      }
    }
    NFNetConfig model = NFNetConfig.resolve(Path.of(variant).toString());
    DataParallel dp = null;
    if (cluster != null) {
      ClusterSpec c = ClusterSpec.parse(cluster, task);
      dp = DataParallel.cluster(WorkerServer.shared(c,
          DataParallel.baseServerConfig(null, devices, DeviceSpec.DeviceType.CPU)), devices,
          DeviceSpec.DeviceType.CPU);
    } else if (devices > 1) {
      dp = DataParallel.local(devices, DeviceSpec.DeviceType.CPU);
    }
    int code = 0;
    DataParallel dpf = dp;
    try (TrainStep step = TrainStep.create(model,
        new SyntheticInput(model.numClasses(), batch, res, 50_000, 1L),
        StepConfig.defaults().with(b -> b.schedule(LearningRateSchedule.constant(0.1))
            .parallel(dpf)))) {
      step.initialize();
      double[] ms = new double[steps];
      for (int i = -warmup; i < steps; i++) {
        long t0 = System.nanoTime();
        step.run(false);
        if (i >= 0) {
          ms[i] = (System.nanoTime() - t0) / 1e6;
        }
      }
      double[] sorted = ms.clone();
      Arrays.sort(sorted);
      double median = sorted[steps / 2];
      double mean = Arrays.stream(ms).average().orElse(Double.NaN);
      int replicas = dp == null ? 1 : dp.replicas();
      int perProcess = batch / (dp == null ? 1 : dp.numTasks());
      System.out.printf(Locale.ROOT,
          "BENCH %s res %d global batch %d, %s: step median %.1f ms (mean %.1f), this process"
              + " %.1f img/s, global %.1f img/s%n", model.name(), res, batch,
          dp == null ? "1 replica" : dp.toString(), median, mean, perProcess / (mean / 1e3),
          batch / (mean / 1e3));
      System.out.printf("REPLICAS %d%n", replicas);
    } catch (RuntimeException e) {
      System.out.println("FAILED " + (cluster == null ? e
          : PeerFailureException.classify(ClusterSpec.parse(cluster, task), e)).getMessage());
      code = 1;
    }
    System.out.flush();
    Runtime.getRuntime().halt(code);
  }
}
