package org.nfnet.zoo.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.Variants;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

class NFNetGraphTest {
  static final NFNetConfig TINY = NFNetConfig.builder("tiny")
      .width(16, 32, 32, 32).depth(1, 1, 1, 1).groupWidth(8, 8, 8, 8)
      .trainImsize(32).testImsize(32).numClasses(5).build();

  /** A source that allocates nothing: every parameter is a placeholder of the right shape. */
  static final ParameterSource PLACEHOLDERS = (tf, spec, init) ->
      tf.withName(spec.name()).placeholder(TFloat32.class, Placeholder.shape(Shape.of(spec.shape())));

  @Test
  void f0GraphRequestsExactlyTheStructureParametersInOrder() {
    NFNetConfig f0 = Variants.get("F0");
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, 256, 256, 3)));
      NFNet.Trace t = new NFNet(f0).buildWithTrace(tf, x, PLACEHOLDERS, ForwardOptions.inference());
      assertEquals(NFNetStructure.parameters(f0), t.parameters());
      assertArrayEquals(new long[] {-1, 1000}, t.outputs().logits().shape().asArray());
      assertArrayEquals(new long[] {-1, 3072}, t.outputs().pooled().shape().asArray());
    }
  }

  @Test
  void variablesAreNamedAfterTheirHaikuIdentity() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, -1, -1, 3)));
      VariableParameters vp = new VariableParameters();
      new NFNet(TINY).build(tf, x, vp, ForwardOptions.inference());
      List<ParameterSpec> expected = NFNetStructure.parameters(TINY);
      assertEquals(expected.size(), vp.entries().size());
      for (int i = 0; i < expected.size(); i++) {
        assertEquals(expected.get(i).tfName(), vp.entries().get(i).variable().op().name());
      }
      assertEquals("NFNet/nf_block_1/conv1/w", vp.entry("NFNet/~/nf_block_1/~/conv1/w").variable().op().name());
      assertEquals("NFNet/nf_block/squeeze_excite/linear_1/b",
          vp.entry("NFNet/~/nf_block/~/squeeze_excite/~/linear_1/b").variable().op().name());
    }
  }

  @Test
  void randomInitFollowsHaikuDefaultsAndTrainingModeIsStochastic() {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, -1, -1, 3)));
      var seed = tf.placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));
      VariableParameters vp = new VariableParameters();
      NFNetOutputs eval = new NFNet(TINY).build(tf, x, vp, ForwardOptions.inference());
      var init = vp.initializer(tf, tf.constant(new long[] {7, 11}));
      s.run(init);
      // Reuse the same variables for a training-mode forward.
      ParameterSource shared = (m, spec, in) -> vp.entry(spec.haikuKey()).read();
      NFNetOutputs train = new NFNet(TINY).build(tf.withSubScope("train"), x, shared,
          ForwardOptions.training(seed));
      try (TFloat32 img = TFloat32.tensorOf(Shape.of(8, 32, 32, 3), b -> {
            for (long i = 0; i < b.size(); i++) {
              b.setFloat((float) Math.sin(i * 0.37), i / (32 * 32 * 3), (i / (32 * 3)) % 32, (i / 3) % 32, i % 3);
            }
          });
          Result r = s.runner().fetch(vp.entry("NFNet/~/stem_conv1/w").read())
              .fetch(vp.entry("NFNet/~/stem_conv1/gain").read())
              .fetch(vp.entry("NFNet/~/nf_block/skip_gain").read())
              .fetch(vp.entry("NFNet/~/linear/w").read()).run()) {
        TFloat32 w = (TFloat32) r.get(0);
        double sum = 0;
        double sq = 0;
        long n = w.shape().size();
        double max = 0;
        for (long i = 0; i < n; i++) {
          float v = w.getFloat(i / (16 * 32 * 3), (i / (16 * 32)) % 3, (i / 32) % 16, i % 32);
          sum += v;
          sq += v * v;
          max = Math.max(max, Math.abs(v));
        }
        // fan_in = 3*3*16 = 144; VarianceScaling(1, fan_in, truncated normal): std 1/12, cut at 2 std / 0.88
        assertEquals(1.0 / 12, Math.sqrt(sq / n - (sum / n) * (sum / n)), 0.01);
        assertTrue(max <= 2 / 12.0 / 0.87962566103423978 + 1e-6, "truncated at 2 sigma");
        assertEquals(1.0f, ((TFloat32) r.get(1)).getFloat(5));
        assertEquals(0.0f, ((TFloat32) r.get(2)).getFloat());
        TFloat32 fc = (TFloat32) r.get(3);
        double fsq = 0;
        for (int i = 0; i < 64; i++) {
          for (int j = 0; j < 5; j++) {
            fsq += fc.getFloat(i, j) * fc.getFloat(i, j);
          }
        }
        assertEquals(0.01, Math.sqrt(fsq / 320), 0.002);
        // skip_gain starts at 0, so switch the residual branches on to see stochastic depth act.
        for (var e : vp.entries()) {
          if (e.spec().name().equals("skip_gain")) {
            s.run(tf.assign(e.variable(), tf.constant(1.0f)));
          }
        }
        float[] a = logits(s, eval.logits(), x, img, null, null);
        float[] b = logits(s, eval.logits(), x, img, null, null);
        float[] t1 = logits(s, train.logits(), x, img, seed, new long[] {1, 2});
        float[] t1again = logits(s, train.logits(), x, img, seed, new long[] {1, 2});
        float[] t2 = logits(s, train.logits(), x, img, seed, new long[] {3, 4});
        assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b));
        assertEquals(java.util.Arrays.toString(t1), java.util.Arrays.toString(t1again));
        assertNotEquals(java.util.Arrays.toString(t1), java.util.Arrays.toString(t2));
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(t1));
      }
    }
  }

  private static float[] logits(Session s, org.tensorflow.Operand<TFloat32> out, Placeholder<TFloat32> x,
      TFloat32 img, Placeholder<TInt64> seed, long[] seedValue) {
    var runner = s.runner().feed(x, img).fetch(out);
    TInt64 seedT = null;
    if (seed != null) {
      seedT = TInt64.vectorOf(seedValue);
      runner.feed(seed, seedT);
    }
    try (Result r = runner.run()) {
      TFloat32 t = (TFloat32) r.get(0);
      float[] v = new float[(int) t.shape().size()];
      t.asRawTensor().data().asFloats().read(v);
      return v;
    } finally {
      if (seedT != null) {
        seedT.close();
      }
    }
  }

  @Test
  void tooSmallStaticInputFailsBeforeAnyGraphRuns() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, 31, 64, 3)));
      var e = assertThrows(IllegalArgumentException.class,
          () -> new NFNet(TINY).build(tf, x, PLACEHOLDERS, ForwardOptions.inference()));
      assertTrue(e.getMessage().contains("31x64"), e.getMessage());
    }
  }
}
