package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.converters.ConversionInput;
import org.nfnet.converters.ReadOptions;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * Freezing at load ({@link LoadTimeFreezing}) on a variables export of DeepMind's T0 fixture
 * weights: the running graph holds the weights as constants and still computes DeepMind's logits.
 */
class LoadTimeFreezingTest {
  /** T0ParityTest's tolerance: max |ours - DeepMind| / max |DeepMind|. */
  static final double TOLERANCE = 2e-5;

  @TempDir
  static Path tmp;
  static Path export;

  @BeforeAll
  static void exportT0WithVariables() throws Exception {
    NFNetConfig t0 = SharedFixtures.t0Config();
    export = tmp.resolve("t0");
    try (ConversionInput in = ConversionInput.open(SharedFixtures.t0().resolve("t0_seed5_release.pkl"),
        t0, ReadOptions.defaults(), true)) {
      new NFNetExporter(t0).parameters(in.float32Tensors()).export(export);
    }
  }

  @Test
  void frozenAtLoadHasConstantFiltersAndDeepMindsLogits() throws Exception {
    try (NFNetModel m = NFNetModel.load(export, NFNetModel.Options.defaults().withFreeze(true))) {
      assertTrue(m.frozenAtLoad(), m.weights());
      assertEquals("constants (frozen at load)", m.weights());
      Map<String, Integer> types = opTypes(m.graph());
      for (String t : new String[] {"VariableV2", "Variable", "VarHandleOp", "ReadVariableOp",
          "Assign", "SaveV2", "RestoreV2"}) {
        assertEquals(0, types.getOrDefault(t, 0), t + " ops left in the frozen graph: " + types);
      }
      int filters = 0;
      for (Iterator<GraphOperation> it = m.graph().operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        if (op.type().equals("Conv2D") || op.type().equals("MatMul")) {
          assertTrue(fromConstantsOnly((GraphOperation) op.input(1).op()),
              op.name() + "'s filter " + op.input(1).op().name() + " depends on more than constants");
          filters++;
        }
      }
      // 1x1 convolutions are MatMuls of a reshaped kernel (a Const that Grappler folds).
      // T0: stem 4 convs + 6 blocks x (3 or 4 convs + 2 SE linears) + final conv + classifier.
      assertTrue(filters >= 30, "only " + filters + " Conv2D/MatMul ops");

      for (JsonNode c : SharedFixtures.reference().get("cases")) {
        if (!c.get("weights").asText().equals("t0_seed5_p3.pkl")) {
          continue;
        }
        int n = c.get("batch").asInt();
        int res = c.get("res").asInt();
        FloatBuffer input = SharedFixtures.readF32(SharedFixtures.t0().resolve(c.get("input").asText()));
        float[][] logits = m.logitsFromNormalized(input, n, res, res);
        float[] flat = new float[n * logits[0].length];
        for (int i = 0; i < n; i++) {
          System.arraycopy(logits[i], 0, flat, i * logits[i].length, logits[i].length);
        }
        double e = SharedFixtures.relativeMaxError(c.get("logits"), flat, logits[0].length);
        assertTrue(e <= TOLERANCE, "case @" + res + ": logits off by " + e + " of max |ref|");
      }
    }
  }

  @Test
  void byDefaultTheVariablesAreKept() throws Exception {
    try (NFNetModel m = NFNetModel.load(export)) {
      assertFalse(m.frozenAtLoad());
      assertTrue(m.weights().startsWith("variables (freezing at load not requested"), m.weights());
      assertTrue(opTypes(m.graph()).getOrDefault("VariableV2", 0) > 30, "T0's variables are kept");
      assertEquals(m.weights(), m.status().get("weights"));
    }
  }

  @Test
  void aVariableFeedingAnythingButAReadIsNotFrozen() throws Exception {
    Path dir = tmp.resolve("update");
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> x = tf.withName("x").placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(2)));
      Variable<TFloat32> v = tf.withName("counter").variable(tf.constant(new float[] {1, 2}));
      // The output updates the variable: it takes the variable itself, not a read of its value.
      var y = tf.withName("y").assignAdd(v, x);
      s.initialize();
      SavedModelBundle.exporter(dir.toString()).withSession(s)
          .withSignature(Signature.builder("serving_default").input("x", x).output("y", y).build())
          .export();
    }
    try (SavedModelBundle b = SavedModelBundle.load(dir.toString(), "serve")) {
      LoadTimeFreezing.Outcome o = LoadTimeFreezing.freeze(b, null);
      assertFalse(o.frozen());
      assertNull(o.session());
      assertTrue(o.reason().contains("counter") && o.reason().contains("AssignAdd"), o.reason());
    }
  }

  /** Whether an op is a Const or computed from Consts only (what Grappler constant-folds). */
  private static boolean fromConstantsOnly(GraphOperation op) {
    if (op.type().equals("Const")) {
      return true;
    }
    if (op.numInputs() == 0 || op.numControlInputs() > 0) {
      return false;
    }
    for (int i = 0; i < op.numInputs(); i++) {
      if (!fromConstantsOnly((GraphOperation) op.input(i).op())) {
        return false;
      }
    }
    return true;
  }

  private static Map<String, Integer> opTypes(Graph g) {
    Map<String, Integer> types = new HashMap<>();
    for (Iterator<GraphOperation> it = g.operations(); it.hasNext(); ) {
      types.merge(it.next().type(), 1, Integer::sum);
    }
    return types;
  }
}
