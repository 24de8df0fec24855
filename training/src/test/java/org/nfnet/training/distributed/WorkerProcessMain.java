package org.nfnet.training.distributed;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;

/**
 * Child JVM for the multi-process tests: {@code <mode> <cluster> <taskIndex> [args]}. Prints
 * {@code RESULT ...} lines on stdout and exits; the server dies with the process.
 */
public final class WorkerProcessMain {

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    if (mode.startsWith("dp")) {
      DpWorkerMain.main(args); // starts its own server (through the trainer) and halts
      return;
    }
    ClusterSpec cluster = ClusterSpec.parse(args[1], Integer.parseInt(args[2]));
    ConfigProto base =
        ConfigProto.newBuilder()
            .setInterOpParallelismThreads(2)
            .setIntraOpParallelismThreads(1)
            .build();
    WorkerServer server = WorkerServer.start(cluster, base);
    int code = 0;
    try {
      switch (mode) {
        case "allreduce" -> allReduce(server);
        case "fail" -> failAfterPeerDeath(server, Float.parseFloat(args[3]));
        case "sgd" -> DataParallelSgd.runWorker(server, Integer.parseInt(args[3]));
        case "idle" -> idle();
        default -> throw new IllegalArgumentException(mode);
      }
    } catch (Throwable t) {
      System.out.println("ERROR " + t.getClass().getSimpleName() + ": "
          + String.valueOf(t.getMessage()).replace('\n', ' '));
      t.printStackTrace();
      code = 3;
    }
    System.out.flush();
    // The TF server cannot be stopped; exiting the process is the shutdown.
    Runtime.getRuntime().halt(code);
  }

  /** Serves (the server is up) but never runs a step: a stuck peer. */
  private static void idle() throws InterruptedException {
    System.out.println("STEPPING");
    System.out.flush();
    Thread.sleep(120_000);
  }

  /** Task t contributes g_k = (t + 1) * (k + 1) (+ 0.5 k for the second tensor). */
  static float[] gradient(int task, int n, float offset) {
    float[] g = new float[n];
    for (int k = 0; k < n; k++) {
      g[k] = (task + 1) * (k + 1) + offset * k;
    }
    return g;
  }

  private static void allReduce(WorkerServer server) {
    ClusterSpec c = server.cluster();
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g).withDevice(c.localCpu());
      List<Operand<TFloat32>> grads = new ArrayList<>();
      grads.add(tf.constant(Shape.of(2, 3), DataBuffers.of(gradient(c.taskIndex(), 6, 0f))));
      grads.add(tf.constant(gradient(c.taskIndex(), 5, 0.5f)));
      List<Operand<TFloat32>> plain = CollectiveAllReduce.sum(tf, grads, c.numTasks(), 1, 100);
      List<Operand<TFloat32>> packed =
          CollectiveAllReduce.sum(tf, grads, c.numTasks(), 1, 200,
              CollectiveAllReduce.Options.defaults().packed(true).timeoutSeconds(30));
      try (Session s = server.newSession(g)) {
        RunOptions ro = RunOptions.newBuilder().setTimeoutInMs(60_000).build();
        for (int step = 0; step < 2; step++) {
          Session.Runner r = s.runner().setOptions(ro);
          plain.forEach(r::fetch);
          packed.forEach(r::fetch);
          try (Result res = r.run()) {
            StringBuilder sb = new StringBuilder("RESULT step=" + step);
            for (int i = 0; i < 4; i++) {
              TFloat32 t = (TFloat32) res.get(i);
              float[] v = new float[(int) t.size()];
              t.copyTo(DataBuffers.of(v, false, false));
              sb.append(' ').append(Arrays.toString(v).replace(" ", ""));
            }
            System.out.println(sb);
          }
        }
      }
    }
  }

  /** Runs all-reduce steps until one fails (the peer is killed), reports time-to-failure. */
  private static void failAfterPeerDeath(WorkerServer server, float timeoutSeconds) {
    ClusterSpec c = server.cluster();
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g).withDevice(c.localCpu());
      List<Operand<TFloat32>> grads = List.of(tf.constant(gradient(c.taskIndex(), 1000, 0f)));
      List<Operand<TFloat32>> red =
          CollectiveAllReduce.sum(tf, grads, c.numTasks(), 1, 1,
              CollectiveAllReduce.Options.defaults().timeoutSeconds(timeoutSeconds));
      try (Session s = server.newSession(g)) {
        RunOptions ro =
            RunOptions.newBuilder().setTimeoutInMs((long) (timeoutSeconds * 2000)).build();
        long stepStart = 0;
        int step = 0;
        try {
          for (; step < 1_000_000; step++) {
            stepStart = System.nanoTime();
            try (Result res = s.runner().setOptions(ro).fetch(red.get(0)).run()) {
              if (step == 0) {
                System.out.println("STEPPING");
                System.out.flush();
              }
            }
            Thread.sleep(20);
          }
        } catch (RuntimeException raw) {
          long ms = (System.nanoTime() - stepStart) / 1_000_000;
          RuntimeException e = PeerFailureException.classify(c, raw);
          System.out.println("FAILED step=" + step + " ms=" + ms + " type="
              + e.getClass().getSimpleName() + " msg="
              + String.valueOf(e.getMessage()).replace('\n', ' '));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }
}
