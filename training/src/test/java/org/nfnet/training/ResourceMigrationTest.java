package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.training.data.FixedBatchInput;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.NameScopes;
import org.nfnet.zoo.graph.ResourceVariables;
import org.nfnet.zoo.graph.VariableParameters;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * A checkpoint of the earlier {@code VariableV2} training step restores into today's
 * resource-variable {@link TrainStep}: the checkpoint is built here the way that release built it
 * (the zoo's {@link VariableParameters} for the parameters, ref variables {@code global_step},
 * {@code optimizer/momentum/<parameter>} and {@code ema/<parameter>}, each with its own random
 * value, written by TF Java's {@code Session.save} into {@code ckpt-*}/{@code variables}), and
 * {@link Checkpoints#restore} must give every variable of the new step its value bit for bit,
 * and training must go on from the saved global step.
 */
class ResourceMigrationTest {

  @Test
  void variableV2CheckpointsRestoreIntoTheResourceStep(@TempDir Path dir) throws Exception {
    NFNetConfig t0 = Fixtures.t0Config();
    Path ckpt = dir.resolve("ckpt-0000000007");
    Files.createDirectories(ckpt);
    Map<String, float[]> saved = writeVariableV2Checkpoint(t0,
        ckpt.resolve(Checkpoints.VARIABLES).toString(), 7L);

    int n = 4;
    int res = 32;
    float[] images = new float[n * res * res * 3];
    Random r = new Random(17);
    for (int i = 0; i < images.length; i++) {
      images[i] = (float) r.nextGaussian();
    }
    StepConfig o = StepConfig.defaults().with(b -> b.schedule(
        new LearningRateSchedule.WarmupCosineDecay(0, 0, 0.4, 20, 2)).emaDecay(0.9));
    try (TrainStep s = TrainStep.create(t0, new FixedBatchInput(images, new int[] {2, 5, 5, 9},
        res, res, t0.numClasses()), o)) {
      List<String> names = s.variables().all().stream().map(ResourceVariables.Variable::name)
          .toList();
      // Every variable of the new step is in the old checkpoint, and nothing else is.
      List<String> expected = new ArrayList<>(saved.keySet());
      expected.add("global_step");
      assertEquals(expected.stream().sorted().toList(), names.stream().sorted().toList());
      s.initialize();
      Map<String, float[]> fresh = ResourceTrainStepTest.values(s, new ArrayList<>(saved.keySet()));
      saved.forEach((k, v) -> assertFalse(java.util.Arrays.equals(v, fresh.get(k)),
          k + " differs before the restore"));

      Checkpoints.restore(s, ckpt);
      s.startInput();
      Map<String, float[]> got = ResourceTrainStepTest.values(s, new ArrayList<>(saved.keySet()));
      saved.forEach((k, v) -> assertArrayEquals(v, got.get(k), k));
      assertEquals(7L, s.globalStep());
      Map<String, float[]> w = s.weights();
      s.parameters().entries().forEach(e -> assertArrayEquals(saved.get(e.spec().tfName()),
          w.get(e.spec().haikuKey()), "weights() " + e.spec().haikuKey()));
      for (int i = 0; i < 2; i++) {
        TrainStep.StepMetrics m = s.run(false);
        assertEquals(7L + i, m.step());
        assertFalse(Double.isNaN(m.loss()));
      }
    }
  }

  /**
   * The earlier release's checkpoint layout with distinct random values per variable; returns the
   * float values by variable name.
   */
  private static Map<String, float[]> writeVariableV2Checkpoint(NFNetConfig model, String prefix,
      long step) {
    Map<String, float[]> values = new LinkedHashMap<>();
    Random r = new Random(41);
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      NameScopes scopes = new NameScopes(tf);
      Variable<TInt64> globalStep = tf.withName("global_step").variable(Shape.scalar(),
          TInt64.class);
      List<Op> assigns = new ArrayList<>(List.of(tf.assign(globalStep, tf.constant(step))));
      VariableParameters params = new VariableParameters();
      new NFNet(model).build(tf, tf.zeros(tf.constant(new long[] {1, 32, 32, 3}), TFloat32.class),
          params, ForwardOptions.inference());
      List<String> names = new ArrayList<>();
      List<Variable<TFloat32>> vars = new ArrayList<>();
      for (VariableParameters.Entry e : params.entries()) {
        names.add(e.spec().tfName());
        vars.add(e.variable());
      }
      for (String scope : List.of("optimizer/momentum/", "ema/")) {
        for (VariableParameters.Entry e : params.entries()) {
          String name = scope + e.spec().tfName();
          names.add(name);
          vars.add(scopes.named(name).variable(Shape.of(e.spec().shape()), TFloat32.class));
        }
      }
      for (int i = 0; i < names.size(); i++) {
        long[] shape = vars.get(i).shape().asArray();
        float[] v = new float[(int) Shape.of(shape).size()];
        for (int k = 0; k < v.length; k++) {
          v[k] = (float) r.nextGaussian();
        }
        values.put(names.get(i), v);
        Operand<TFloat32> c = tf.constant(Shape.of(shape), DataBuffers.of(v));
        assigns.add(tf.assign(vars.get(i), c));
      }
      try (Session s = new Session(g)) {
        var run = s.runner();
        assigns.forEach(run::addTarget);
        run.run();
        s.save(prefix);
      }
    }
    return values;
  }
}
