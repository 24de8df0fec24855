package org.nfnet.training.distributed;

import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;

/**
 * Tiny linear regression trained with SGD on the replica-mean MSE loss, either on one process
 * with the global batch or data-parallel (each task takes its slice of the global batch, gradients
 * are summed with {@link CollectiveAllReduce} and divided by the world size: the trainer's
 * pattern, followed there by AGC clipping).
 */
final class DataParallelSgd {

  static final int FEATURES = 4;
  static final int PER_REPLICA_BATCH = 8;
  static final int STEPS = 12;
  static final float LR = 0.05f;

  private final Placeholder<TFloat32> x;
  private final Placeholder<TFloat32> y;
  private final Variable<TFloat32> w;
  private final Variable<TFloat32> b;
  private final Op update;

  /** cluster == null: single replica, no collectives. */
  private DataParallelSgd(Ops tf, int batch, ClusterSpec cluster) {
    x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(batch, FEATURES)));
    y = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(batch, 1)));
    w = tf.variable(tf.zeros(tf.constant(new int[] {FEATURES, 1}), TFloat32.class));
    b = tf.variable(tf.zeros(tf.constant(new int[] {1}), TFloat32.class));
    Operand<TFloat32> err = tf.math.sub(tf.math.add(tf.linalg.matMul(x, w), b), y);
    Operand<TFloat32> scale = tf.constant(2f / batch);
    Operand<TFloat32> gw =
        tf.math.mul(scale, tf.linalg.matMul(x, err, org.tensorflow.op.linalg.MatMul.transposeA(true)));
    Operand<TFloat32> gb = tf.math.mul(scale, tf.reduceSum(err, tf.constant(0)));
    List<Operand<TFloat32>> grads = List.of(gw, gb);
    if (cluster != null) {
      grads = CollectiveAllReduce.sum(tf, grads, cluster.numTasks(), 1, 1,
          CollectiveAllReduce.Options.defaults().timeoutSeconds(30));
      Operand<TFloat32> inv = tf.constant(1f / cluster.numTasks());
      grads = List.of(tf.math.mul(grads.get(0), inv), tf.math.mul(grads.get(1), inv));
    }
    Operand<TFloat32> lr = tf.constant(LR);
    update = tf.withControlDependencies(List.of(
            tf.assignSub(w, tf.math.mul(lr, grads.get(0))),
            tf.assignSub(b, tf.math.mul(lr, grads.get(1)))))
        .noOp();
  }

  /** Row r of the global batch of step s. */
  static float[][] globalBatch(int step, int rows) {
    float[] xs = new float[rows * FEATURES];
    float[] ys = new float[rows];
    float[] wTrue = {0.7f, -1.2f, 0.4f, 2.0f};
    for (int r = 0; r < rows; r++) {
      int i = step * rows + r;
      float t = 0.5f;
      for (int j = 0; j < FEATURES; j++) {
        float v = (float) Math.sin(0.37 * i + 1.3 * j);
        xs[r * FEATURES + j] = v;
        t += wTrue[j] * v;
      }
      ys[r] = t + 0.1f * (float) Math.cos(i);
    }
    return new float[][] {xs, ys};
  }

  private float[] train(Session s, int replicas, int replica) {
    int batch = (int) x.shape().get(0);
    RunOptions ro = RunOptions.newBuilder().setTimeoutInMs(60_000).build();
    for (int step = 0; step < STEPS; step++) {
      float[][] global = globalBatch(step, batch * replicas);
      float[] xs = new float[batch * FEATURES];
      float[] ys = new float[batch];
      System.arraycopy(global[0], replica * batch * FEATURES, xs, 0, xs.length);
      System.arraycopy(global[1], replica * batch, ys, 0, ys.length);
      try (TFloat32 xt = TFloat32.tensorOf(Shape.of(batch, FEATURES), DataBuffers.of(xs));
          TFloat32 yt = TFloat32.tensorOf(Shape.of(batch, 1), DataBuffers.of(ys))) {
        s.runner().setOptions(ro).feed(x, xt).feed(y, yt).addTarget(update).run().close();
      }
    }
    try (Result r = s.runner().fetch(w).fetch(b).run()) {
      float[] p = new float[FEATURES + 1];
      ((TFloat32) r.get(0)).copyTo(DataBuffers.of(p, false, false).slice(0, FEATURES));
      p[FEATURES] = ((TFloat32) r.get(1)).getFloat(0);
      return p;
    }
  }

  /** One process, batch {@code replicas * PER_REPLICA_BATCH}, local session. */
  static float[] runSingle(int replicas) {
    try (Graph g = new Graph()) {
      DataParallelSgd m = new DataParallelSgd(Ops.create(g), replicas * PER_REPLICA_BATCH, null);
      try (Session s = new Session(g)) {
        return m.train(s, 1, 0);
      }
    }
  }

  /** Worker side of the data-parallel run; prints {@code RESULT p0 .. p4}. */
  static void runWorker(WorkerServer server, int unused) {
    ClusterSpec c = server.cluster();
    try (Graph g = new Graph()) {
      DataParallelSgd m =
          new DataParallelSgd(Ops.create(g).withDevice(c.localCpu()), PER_REPLICA_BATCH, c);
      try (Session s = server.newSession(g)) {
        s.initialize();
        float[] p = m.train(s, c.numTasks(), c.taskIndex());
        StringBuilder sb = new StringBuilder("RESULT");
        for (float v : p) {
          sb.append(' ').append(v);
        }
        System.out.println(sb);
      }
    }
  }
}
