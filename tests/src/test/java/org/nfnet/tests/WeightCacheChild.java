package org.nfnet.tests;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.testing.SharedFixtures;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * Child JVM of {@link OneDnnWeightCacheProcessTest}: loads one export and runs {@code
 * logits_from_normalized} on each {@code file:n:res} argument in turn, in one session (so later
 * calls run on whatever the first call cached), and writes all logits to one float32 file.
 * Arguments: model directory, output file, then the inputs (T0 fixture file names); or {@code
 * stale}: prints how much a convolution's output changes when its weights are doubled.
 */
public final class WeightCacheChild {
  private WeightCacheChild() {}

  public static void main(String[] args) throws Exception {
    if (args[0].equals("stale")) {
      System.out.println("change after the weights changed: " + changeAfterReassign());
      return;
    }
    ByteBuffer out = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    try (NFNetModel m = NFNetModel.load(Path.of(args[0]))) {
      for (int i = 2; i < args.length; i++) {
        String[] p = args[i].split(":");
        int n = Integer.parseInt(p[1]);
        int res = Integer.parseInt(p[2]);
        FloatBuffer x = SharedFixtures.readF32(SharedFixtures.t0().resolve(p[0]));
        for (float[] row : m.logitsFromNormalized(x, n, res, res)) {
          for (float v : row) {
            out.putFloat(v);
          }
        }
      }
    }
    Files.write(Path.of(args[1]), java.util.Arrays.copyOf(out.array(), out.position()));
  }

  /**
   * One convolution on a variable, run, the variable doubled, run again: the largest change of
   * the output (its first value's size without the cache; 0 when the convolution kept its first
   * weights).
   */
  static float changeAfterReassign() {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      float[][][][] k = new float[3][3][8][16];
      float[][][][] x = new float[1][8][8][8];
      for (int i = 0; i < 3 * 3 * 8 * 16; i++) {
        k[i / 384][i / 128 % 3][i / 16 % 8][i % 16] = (i % 7) - 3f;
      }
      for (int i = 0; i < 8 * 8 * 8; i++) {
        x[0][i / 64][i / 8 % 8][i % 8] = (i % 5) - 2f;
      }
      Variable<TFloat32> w = tf.variable(Shape.of(3, 3, 8, 16), TFloat32.class);
      Operand<TFloat32> y = tf.nn.conv2d(tf.constant(x), w, List.of(1L, 1L, 1L, 1L), "SAME");
      s.runner().addTarget(tf.assign(w, tf.constant(k))).run();
      float[] first = values(s, y);
      s.runner().addTarget(tf.assign(w, tf.math.mul(w, tf.constant(2f)))).run();
      float[] second = values(s, y);
      float change = 0;
      for (int i = 0; i < first.length; i++) {
        change = Math.max(change, Math.abs(second[i] - first[i]));
      }
      return change;
    }
  }

  private static float[] values(Session s, Operand<TFloat32> y) {
    try (TFloat32 t = (TFloat32) s.runner().fetch(y).run().get(0)) {
      float[] v = new float[(int) t.size()];
      t.copyTo(org.tensorflow.ndarray.buffer.DataBuffers.of(v, false, false));
      return v;
    }
  }
}
