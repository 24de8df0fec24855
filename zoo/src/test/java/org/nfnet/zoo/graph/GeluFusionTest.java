package org.nfnet.zoo.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * {@link Activations#geluTanhFusible} after a MatMul + BiasAdd: TF's remapper must turn the whole
 * chain into one fused matrix product with a GELU post-op (read back from the graph the session
 * actually ran), and its values must be the tanh GELU's, in float32 and in bf16. A TF upgrade that
 * changes the remapper's pattern shows up here, not as a silent slowdown.
 */
class GeluFusionTest {
  private static final int ROWS = 64;
  private static final int IN = 32;
  private static final int OUT = 48;

  @Test
  void float32ChainBecomesOneFusedMatMulWithGeluValues() {
    Run r = run(false);
    assertEquals(List.of("BiasAdd", "GeluApproximate"), r.fusedOps,
        "fused ops of the matrix product; ran: " + r.opTypes);
    assertTrue(!r.opTypes.contains("Tanh"), "GELU left unfused: " + r.opTypes);
    System.out.printf("float32 fused GELU: max |err| %.2e of max |y| %.2f%n", r.maxErr, r.maxY);
    // oneDNN's tanh GELU in float32 against the formula in double: float rounding.
    assertTrue(r.maxErr < 1e-5 * r.maxY, "max |err| " + r.maxErr);
  }

  @Test
  void bfloat16ChainBecomesOneFusedMatMulWithGeluValues() {
    Run r = run(true);
    assertEquals(List.of("BiasAdd", "GeluApproximate"), r.fusedOps,
        "fused ops of the matrix product; ran: " + r.opTypes);
    System.out.printf("bf16 fused GELU: max |err| %.2e of max |y| %.2f%n", r.maxErr, r.maxY);
    // bf16 inputs and output (8-bit mantissa): within a few bf16 ulps of the largest value.
    assertTrue(r.maxErr < 2e-2 * r.maxY, "max |err| " + r.maxErr);
  }

  /**
   * A whole network: in an inference graph every GELU after a 1x1 convolution (one per block, and
   * the final conv's) is fused, in float32 and bf16, including the final conv's, which a gamma
   * multiply follows; a graph to be differentiated keeps the unfused sigmoid form.
   */
  @Test
  void networkFusesOneGeluPerBlockPlusTheHeadOnlyWhenNotDifferentiated() {
    NFNetConfig tiny = NFNetGraphTest.TINY;
    int expected = NFNetStructure.blocks(tiny).size() + 1;
    for (Precision p : Precision.values()) {
      assertEquals(expected, fusedGelus(tiny, p, ForwardOptions.inference()), p.name());
      assertEquals(0, fusedGelus(tiny, p, ForwardOptions.inference().differentiated(true)), p.name());
    }
  }

  /** MatMuls carrying a GeluApproximate post-op in the graph the session ran. */
  private static int fusedGelus(NFNetConfig c, Precision p, ForwardOptions options) {
    try (Graph g = new Graph(); Session s = new Session(g);
        TFloat32 img = TFloat32.tensorOf(Shape.of(2, 32, 32, 3), b -> {
          for (long i = 0; i < b.size(); i++) {
            b.setFloat((float) Math.cos(i * 0.11), i / (32 * 32 * 3), (i / (32 * 3)) % 32,
                (i / 3) % 32, i % 3);
          }
        })) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> x = tf.placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(-1, 32, 32, 3)));
      VariableParameters vp = new VariableParameters();
      NFNetOutputs out = new NFNet(c, p).build(tf, x, vp, options);
      s.run(vp.initializer(tf, tf.constant(new long[] {5, 9})));
      RunOptions opts = RunOptions.newBuilder().setOutputPartitionGraphs(true).build();
      try (Result r = s.runner().feed(x, img).fetch(out.logits()).setOptions(opts)
          .runAndFetchMetadata()) {
        int n = 0;
        for (GraphDef gd : r.getMetadata().orElseThrow().getPartitionGraphsList()) {
          for (NodeDef node : gd.getNodeList()) {
            if (node.getOp().contains("MatMul") && node.containsAttr("fused_ops")
                && node.getAttrOrThrow("fused_ops").getList().getSList().stream()
                    .anyMatch(v -> v.toStringUtf8().equals("GeluApproximate"))) {
              n++;
            }
          }
        }
        return n;
      }
    }
  }

  private record Run(List<String> fusedOps, List<String> opTypes, double maxErr, double maxY) {}

  private static Run run(boolean bf16) {
    SplittableRandom rnd = new SplittableRandom(3);
    float[] x = new float[ROWS * IN];
    float[] w = new float[IN * OUT];
    float[] b = new float[OUT];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (rnd.nextGaussian() / Math.sqrt(IN));
    }
    for (int i = 0; i < b.length; i++) {
      b[i] = (float) (0.5 * rnd.nextGaussian());
    }
    try (Graph g = new Graph(); Session s = new Session(g);
        TFloat32 xt = TFloat32.tensorOf(Shape.of(ROWS, IN), DataBuffers.of(x, true, false));
        TFloat32 wt = TFloat32.tensorOf(Shape.of(IN, OUT), DataBuffers.of(w, true, false));
        TFloat32 bt = TFloat32.tensorOf(Shape.of(OUT), DataBuffers.of(b, true, false))) {
      Ops tf = Ops.create(g);
      // Placeholders, not constants: constant folding would compute the whole chain at load.
      Placeholder<TFloat32> px = tf.placeholder(TFloat32.class);
      Placeholder<TFloat32> pw = tf.placeholder(TFloat32.class);
      Placeholder<TFloat32> pb = tf.placeholder(TFloat32.class);
      Operand<TFloat32> y;
      if (bf16) {
        Operand<TBfloat16> m = tf.nn.biasAdd(tf.linalg.matMul(tf.dtypes.cast(px, TBfloat16.class),
            tf.dtypes.cast(pw, TBfloat16.class)), tf.dtypes.cast(pb, TBfloat16.class));
        y = tf.dtypes.cast(Activations.geluTanhFusible(tf, m, TBfloat16.class), TFloat32.class);
      } else {
        Operand<TFloat32> m = tf.nn.biasAdd(tf.linalg.matMul(px, pw), pb);
        y = Activations.geluTanhFusible(tf, m, TFloat32.class);
      }
      RunOptions opts = RunOptions.newBuilder().setOutputPartitionGraphs(true).build();
      try (Result out = s.runner().feed(px, xt).feed(pw, wt).feed(pb, bt).fetch(y)
          .setOptions(opts).runAndFetchMetadata()) {
        List<String> fused = new ArrayList<>();
        List<String> types = new ArrayList<>();
        for (GraphDef gd : out.getMetadata().orElseThrow().getPartitionGraphsList()) {
          for (NodeDef n : gd.getNodeList()) {
            types.add(n.getOp());
            if (n.getOp().contains("MatMul") && n.containsAttr("fused_ops")) {
              n.getAttrOrThrow("fused_ops").getList().getSList().forEach(v -> fused.add(v.toStringUtf8()));
            }
          }
        }
        TFloat32 yt = (TFloat32) out.get(0);
        double maxErr = 0;
        double maxY = 0;
        for (int r = 0; r < ROWS; r++) {
          for (int o = 0; o < OUT; o++) {
            double m = b[o];
            for (int i = 0; i < IN; i++) {
              m += (double) x[r * IN + i] * w[i * OUT + o];
            }
            double expect = 0.5 * m * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (m + 0.044715 * m * m * m)));
            maxErr = Math.max(maxErr, Math.abs(yt.getFloat(r, o) - expect));
            maxY = Math.max(maxY, Math.abs(expect));
          }
        }
        return new Run(fused, types, maxErr, maxY);
      }
    }
  }
}
