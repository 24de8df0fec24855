package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/** The machine's practical peak: large square matmuls through TF, float32 and bfloat16. */
final class PeakBench {
  static final int N = 2048;
  static final int PER_SAMPLE = 8;

  private PeakBench() {}

  static ObjectNode run(BenchSections.Settings s) {
    ObjectNode r = BenchSections.JSON.createObjectNode();
    double fp32 = measure(s, false, r);
    double bf16 = measure(s, true, r);
    r.put("fp32_gflops", fp32);
    r.put("bf16_gflops", bf16);
    r.put("summary", String.format(Locale.ROOT,
        "matmul %dx%d: float32 %.0f GFLOP/s, bfloat16 %.0f GFLOP/s (bf16/fp32 = %.2fx)",
        N, N, fp32, bf16, bf16 / fp32));
    return r;
  }

  private static double measure(BenchSections.Settings s, boolean bf16, ObjectNode r) {
    try (Graph g = new Graph(); Session sess = new Session(g, SessionConfigs.threads(s.threads()))) {
      Ops tf = Ops.create(g);
      var shape = tf.constant(new long[] {N, N});
      Operand<TFloat32> a = tf.variable(tf.random.statelessRandomNormal(shape, tf.constant(new long[] {1, 2})));
      Operand<TFloat32> b = tf.variable(tf.random.statelessRandomNormal(shape, tf.constant(new long[] {3, 4})));
      Op product;
      if (bf16) {
        // Inputs converted once into bf16 variables, so the timed op is the matmul alone.
        Operand<TBfloat16> a16 = tf.variable(tf.dtypes.cast(a, TBfloat16.class));
        Operand<TBfloat16> b16 = tf.variable(tf.dtypes.cast(b, TBfloat16.class));
        product = tf.linalg.matMul(a16, b16);
      } else {
        product = tf.linalg.matMul(a, b);
      }
      sess.initialize();
      double[] t = new double[s.repeats()];
      for (int i = 0; i < s.warmup() + s.repeats(); i++) {
        long t0 = System.nanoTime();
        for (int k = 0; k < PER_SAMPLE; k++) {
          sess.runner().addTarget(product).run();
        }
        if (i >= s.warmup()) {
          t[i - s.warmup()] = (System.nanoTime() - t0) / 1e9 / PER_SAMPLE;
        }
      }
      Stats st = Stats.of(t);
      r.set(bf16 ? "bf16_seconds" : "fp32_seconds", BenchSections.stats(st, "s per matmul"));
      return 2.0 * N * N * N / st.median() / 1e9;
    }
  }
}
