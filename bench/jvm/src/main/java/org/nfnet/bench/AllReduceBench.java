package org.nfnet.bench;

import com.google.common.math.Quantiles;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.nfnet.training.distributed.ClusterSpec;
import org.nfnet.training.distributed.CollectiveAllReduce;
import org.nfnet.training.distributed.PeerFailureException;
import org.nfnet.training.distributed.WorkerServer;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;

/**
 * All-reduce benchmark between the tasks of a cluster (run one process per task):
 *
 * <pre>
 * java -cp ... org.nfnet.bench.AllReduceBench --cluster 127.0.0.1:2222,127.0.0.1:2223 \
 *     --task-index 0 [--floats 71500000] [--tensors 1] [--packed] [--iters 5] [--warmup 1]
 * </pre>
 *
 * {@code --floats} are split into {@code --tensors} equal variables (F0 has about 71.5M
 * parameters in ~300 tensors); each timed step sums all of them across tasks. Task 0 prints the
 * per-step times, the algorithm bandwidth (bytes / time) and the ring bus bandwidth
 * (2 (n-1)/n bytes / time). Exits the process at the end (the TF server cannot be stopped).
 */
public final class AllReduceBench {

  public static void main(String[] args) {
    String clusterFlag = null;
    int task = -1;
    long floats = 71_500_000L;
    int tensors = 1;
    boolean packed = false;
    int iters = 5;
    int warmup = 1;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--cluster" -> clusterFlag = args[++i];
        case "--task-index" -> task = Integer.parseInt(args[++i]);
        case "--floats" -> floats = Long.parseLong(args[++i]);
        case "--tensors" -> tensors = Integer.parseInt(args[++i]);
        case "--packed" -> packed = true;
        case "--iters" -> iters = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown flag " + args[i]);
      }
    }
    ClusterSpec cluster = ClusterSpec.parse(clusterFlag, task);
    int code = 0;
    try {
      run(cluster, floats, tensors, packed, iters, warmup);
    } catch (RuntimeException e) {
      System.err.println(PeerFailureException.classify(cluster, e).getMessage());
      code = 1;
    }
    System.out.flush();
    Runtime.getRuntime().halt(code);
  }

  private static void run(
      ClusterSpec cluster, long floats, int tensors, boolean packed, int iters, int warmup) {
    WorkerServer server = WorkerServer.start(cluster, ConfigProto.getDefaultInstance());
    int per = (int) (floats / tensors);
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g).withDevice(cluster.localCpu());
      List<Operand<TFloat32>> grads = new ArrayList<>();
      for (int t = 0; t < tensors; t++) {
        grads.add(tf.variable(tf.fill(tf.constant(new int[] {per}),
            tf.constant(0.001f * (cluster.taskIndex() + 1)))));
      }
      List<Operand<TFloat32>> sums =
          CollectiveAllReduce.sum(tf, grads, cluster.numTasks(), 1, 1,
              CollectiveAllReduce.Options.defaults().packed(packed).timeoutSeconds(600));
      // Consume the results on the device without fetching them to Java.
      List<Op> sinks = new ArrayList<>();
      for (Operand<TFloat32> s : sums) {
        sinks.add(tf.reduceSum(tf.slice(s, tf.constant(new int[] {0}), tf.constant(new int[] {1})),
            tf.constant(0)));
      }
      Op step = tf.withControlDependencies(sinks).noOp();
      try (Session s = server.newSession(g)) {
        s.initialize();
        RunOptions ro = RunOptions.newBuilder().setTimeoutInMs(900_000).build();
        double[] ms = new double[iters];
        for (int i = -warmup; i < iters; i++) {
          long t0 = System.nanoTime();
          s.runner().setOptions(ro).addTarget(step).run().close();
          if (i >= 0) {
            ms[i] = (System.nanoTime() - t0) / 1e6;
          }
        }
        if (cluster.isChief()) {
          double median = Quantiles.median().compute(ms);
          double min = Arrays.stream(ms).min().orElse(Double.NaN);
          double bytes = 4.0 * per * tensors;
          int n = cluster.numTasks();
          System.out.printf(Locale.ROOT,
              "all-reduce n=%d floats=%d tensors=%d packed=%s: median %.1f ms, min %.1f ms"
                  + " (steps %s); algbw %.2f GB/s, busbw %.2f GB/s%n",
              n, (long) per * tensors, tensors, packed, median, min,
              Arrays.toString(Arrays.stream(ms).map(x -> Math.round(x * 10) / 10.0).toArray()),
              bytes / median / 1e6, 2.0 * (n - 1) / n * bytes / median / 1e6);
        }
      }
    }
  }
}
