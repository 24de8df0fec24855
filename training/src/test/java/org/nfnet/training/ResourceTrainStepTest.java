package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.training.data.FixedBatchInput;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.GraphOperation;
import org.tensorflow.Result;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.types.TFloat32;

/**
 * {@link TrainStep} keeps all its state in resource variables: no ref-variable op in the graph,
 * every variable in the checkpoint, and a regularised step with EMA resumes from its own
 * checkpoint bit for bit (masks, learning rate and EMA warm-up follow the restored step).
 */
class ResourceTrainStepTest {

  /** T0 at 32 px on a fixed random batch; regularised (hashed masks) with EMA. */
  static TrainStep t0Step() {
    NFNetConfig t0 = Fixtures.t0Config();
    int n = 4;
    int res = 32;
    float[] images = new float[n * res * res * 3];
    Random r = new Random(11);
    for (int i = 0; i < images.length; i++) {
      images[i] = (float) r.nextGaussian();
    }
    return TrainStep.create(t0, new FixedBatchInput(images, new int[] {1, 7, 3, 7}, res, res,
        t0.numClasses()), StepConfig.defaults().with(b -> b
        .schedule(new LearningRateSchedule.WarmupCosineDecay(0, 0, 0.4, 20, 2))
        .emaDecay(0.9).seed(3L)));
  }

  /**
   * Initial values are computed when the initializer runs, not folded into the graph TF executes:
   * the graphs the initializers of a kernel and of its momentum slot run (TF's partition graphs,
   * after every graph optimization) hold no constant bigger than a shape. Folded, the initial
   * values became Consts of the initializer's cached executor; the variables started out on those
   * buffers, and the process held nearly every variable twice (BENCHMARKS.md, "Constant folding").
   */
  @Test
  void initialValuesAreNotFoldedIntoConstants() {
    try (TrainStep s = t0Step()) {
      ResourceVariables.Variable<?> kernel = s.variables().all().stream()
          .filter(v -> v.name().endsWith("/w") && v.name().startsWith("NFNet/"))
          .max(java.util.Comparator.comparingLong(v -> v.shape().size())).orElseThrow();
      ResourceVariables.Variable<?> slot = s.variables().get(
          SgdAgcOptimizer.MOMENTUM_SCOPE + "/" + kernel.name());
      assertTrue(kernel.shape().size() > 10_000, kernel.name() + " " + kernel.shape());
      for (ResourceVariables.Variable<?> v : List.of(kernel, slot)) {
        RunMetadata meta;
        try (Result r = s.session().runner().addTarget(v.initializer())
            .setOptions(RunOptions.newBuilder().setOutputPartitionGraphs(true).build())
            .runAndFetchMetadata()) {
          meta = r.getMetadata().orElseThrow();
        }
        List<String> big = new ArrayList<>();
        for (GraphDef g : meta.getPartitionGraphsList()) {
          for (NodeDef n : g.getNodeList()) {
            if (n.getOp().equals("Const")) {
              TensorShapeProto shape = n.getAttrMap().get("value").getTensor().getTensorShape();
              long size = 1;
              for (TensorShapeProto.Dim d : shape.getDimList()) {
                size *= d.getSize();
              }
              if (size > 16) {
                big.add(n.getName() + " " + size);
              }
            }
          }
        }
        assertTrue(meta.getPartitionGraphsCount() > 0, "partition graphs returned");
        assertEquals(List.of(), big, "constants in the graph of " + v.name() + "'s initializer");
      }
    }
  }

  @Test
  void resourceVariablesOnlyAndResumeIsBitIdentical(@TempDir Path dir) {
    String prefix = dir.resolve("ckpt/variables").toString();
    List<Double> straight = new ArrayList<>();
    Map<String, float[]> end;
    List<String> names = new ArrayList<>();
    try (TrainStep s = t0Step()) {
      for (Iterator<GraphOperation> it = s.graph().operations(); it.hasNext(); ) {
        String type = it.next().type();
        assertTrue(!type.equals("VariableV2") && !type.equals("Assign")
            && !type.startsWith("Apply"), "ref-variable op " + type);
      }
      s.variables().all().stream().filter(v -> v.type() == TFloat32.class)
          .map(ResourceVariables.Variable::name).forEach(names::add);
      assertEquals(s.variables().all().stream().map(ResourceVariables.Variable::name).toList(),
          s.saver().keys(), "every variable is checkpointed");
      s.initialize();
      s.run(false);
      s.run(false);
      s.saver().save(s.session(), prefix);
      for (int i = 0; i < 3; i++) {
        straight.add(s.run(false).loss());
      }
      end = values(s, names);
    }
    try (TrainStep s = t0Step()) {
      s.initialize(); // other values first: the restore must overwrite every one
      s.run(false);
      s.saver().restore(s.session(), prefix);
      List<Double> resumed = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        TrainStep.StepMetrics m = s.run(false);
        assertEquals(2L + i, m.step());
        resumed.add(m.loss());
      }
      assertEquals(straight, resumed);
      Map<String, float[]> got = values(s, names);
      end.forEach((k, v) -> assertArrayEquals(v, got.get(k), k));
    }
    // The losses moved: the step trains (and masks/LR depend on the restored step).
    assertTrue(!straight.get(0).equals(straight.get(2)), straight.toString());
  }

  /**
   * Fine-tuning with a frozen stem: frozen parameters have no momentum slot, and neither they nor
   * their EMA averages move, while trainable ones do (inside the residual branches gradients start
   * near zero: skip gains start at 0, so not every trainable parameter moves in two steps).
   */
  @Test
  void frozenParametersHaveNoSlotAndStay() {
    NFNetConfig t0 = Fixtures.t0Config();
    var frozen = new FineTuning(null, false, 0).frozen(t0);
    try (TrainStep s = TrainStep.create(t0, t0Step().input(), StepConfig.defaults().with(b -> b
        .emaDecay(0.9).frozen(frozen)))) {
      List<String> names = s.variables().all().stream().map(ResourceVariables.Variable::name)
          .toList();
      s.initialize();
      Map<String, float[]> w0 = s.weights();
      Map<String, float[]> e0 = s.evalWeights();
      s.run(false);
      s.run(false);
      Map<String, float[]> w2 = s.weights();
      Map<String, float[]> e2 = s.evalWeights();
      int nFrozen = 0;
      int moved = 0;
      for (var e : s.parameters().entries()) {
        String key = e.spec().haikuKey();
        boolean isFrozen = frozen.test(e.spec());
        assertEquals(!isFrozen, names.contains(SgdAgcOptimizer.MOMENTUM_SCOPE + "/"
            + e.spec().tfName()), key + " has a slot iff trainable");
        if (isFrozen) {
          nFrozen++;
          assertArrayEquals(w0.get(key), w2.get(key), key + " is frozen");
          assertArrayEquals(e0.get(key), e2.get(key), key + "'s average");
        } else if (!java.util.Arrays.equals(w0.get(key), w2.get(key))) {
          moved++;
          assertTrue(!java.util.Arrays.equals(e0.get(key), e2.get(key)), key + "'s average");
        }
      }
      assertTrue(nFrozen > 0 && moved > 0, "frozen " + nFrozen + ", moved " + moved);
    }
  }

  /**
   * bf16 convolutions on float32 master weights: the variables stay float32 and the losses follow
   * the float32 step's closely (bf16 has 8 mantissa bits) without being equal to them.
   */
  @Test
  void bf16StepTracksTheFloat32Step() {
    List<Double> f32 = new ArrayList<>();
    List<Double> bf16 = new ArrayList<>();
    for (boolean b16 : new boolean[] {false, true}) {
      try (TrainStep base = t0Step();
          TrainStep s = TrainStep.create(base.model(), base.input(), base.config().with(b -> b
              .regularize(false).bf16(b16)))) {
        assertTrue(s.variables().all().stream().allMatch(v -> v.type() != org.tensorflow.types
            .TBfloat16.class), "no bf16 variable");
        s.initialize();
        for (int i = 0; i < 3; i++) {
          (b16 ? bf16 : f32).add(s.run(false).loss());
        }
      }
    }
    for (int i = 0; i < 3; i++) {
      assertEquals(f32.get(i), bf16.get(i), 2e-2 * f32.get(i), "loss of step " + i);
    }
    assertTrue(!f32.equals(bf16), "bf16 changes the numbers: " + f32 + " " + bf16);
  }

  static Map<String, float[]> values(TrainStep s, List<String> names) {
    var run = s.session().runner();
    names.forEach(n -> run.fetch(s.variables().get(n).snapshot()));
    Map<String, float[]> out = new LinkedHashMap<>();
    try (Result res = run.run()) {
      for (int i = 0; i < names.size(); i++) {
        TFloat32 t = (TFloat32) res.get(i);
        float[] a = new float[(int) t.size()];
        t.asRawTensor().data().asFloats().read(a);
        out.put(names.get(i), a);
      }
    }
    return out;
  }
}
