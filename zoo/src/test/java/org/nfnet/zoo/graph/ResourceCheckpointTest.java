package org.nfnet.zoo.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * Resource variables round-trip through {@link ResourceSaver} checkpoints bit for bit, TF Java's
 * own saver would drop them, and checkpoints of today's {@code VariableV2} graphs restore into
 * resource variables of the same names.
 */
class ResourceCheckpointTest {
  private static final NFNetConfig T0 = NFNetConfig.resolve("../variants/t0.json");

  /** A T0 forward on resource variables plus an int64 step and a momentum-like slot. */
  private static final class ResourceModel implements AutoCloseable {
    final Graph g = new Graph();
    final ResourceVariables vars = new ResourceVariables();
    final Session s;
    final ResourceSaver saver;
    final org.tensorflow.op.Op init;
    final org.tensorflow.op.Op scramble;

    ResourceModel(long seed, boolean withSaver) {
      Ops tf = Ops.create(g);
      NameScopes scopes = new NameScopes(tf);
      vars.create(scopes.named("global_step"), "global_step", Shape.scalar(), TInt64.class,
          tf.constant(seed * 1000 + 7), false);
      Operand<TFloat32> images = tf.zeros(tf.constant(new long[] {1, 32, 32, 3}), TFloat32.class);
      ResourceParameters params = new ResourceParameters(vars,
          tf.constant(new long[] {seed, 0x1234L}));
      new NFNet(T0).build(tf, images, params, ForwardOptions.inference());
      ResourceParameters.Entry w = params.entries().get(0);
      vars.create(scopes.named("optimizer/momentum/" + w.spec().tfName()),
          "optimizer/momentum/" + w.spec().tfName(), Shape.of(w.spec().shape()), TFloat32.class,
          tf.fill(tf.constant(w.spec().shape()), tf.constant((float) seed)), false);
      init = vars.initializer(tf.withName("init_all"));
      // Sets every variable to a value no checkpoint here holds (-1 step, -3.5 everywhere else).
      List<org.tensorflow.op.Op> set = new java.util.ArrayList<>();
      for (ResourceVariables.Variable<?> v : vars.all()) {
        Operand<?> x = v.type() == TInt64.class ? tf.constant(-1L)
            : tf.fill(tf.constant(v.shape().asArray()), tf.constant(-3.5f));
        set.add(tf.assignVariableOp(v.handle(), x));
      }
      scramble = tf.withControlDependencies(set).noOp();
      saver = withSaver ? ResourceSaver.build(g, vars) : null;
      s = new Session(g);
      s.runner().addTarget(init).run();
      if (seed == 6) {
        s.runner().addTarget(scramble).run();
      }
    }

    /** Every variable's raw bytes, by name. */
    Map<String, byte[]> values() {
      Ops tf = Ops.create(g).withSubScope("fetch");
      Map<String, byte[]> out = new LinkedHashMap<>();
      var r = s.runner();
      List<ResourceVariables.Variable<?>> all = vars.all();
      all.forEach(v -> r.fetch(v.snapshot()));
      try (Result res = r.run()) {
        for (int i = 0; i < all.size(); i++) {
          Tensor t = res.get(i);
          byte[] b = new byte[(int) t.numBytes()];
          t.asRawTensor().data().read(b);
          out.put(all.get(i).name(), b);
        }
      }
      return out;
    }

    @Override
    public void close() {
      s.close();
      g.close();
    }
  }

  private static void assertSameValues(Map<String, byte[]> want, Map<String, byte[]> got) {
    assertEquals(want.keySet(), got.keySet());
    want.forEach((k, v) -> assertArrayEquals(v, got.get(k), k));
  }

  private static boolean anyDiffers(Map<String, byte[]> a, Map<String, byte[]> b) {
    return a.keySet().stream().anyMatch(k -> !java.util.Arrays.equals(a.get(k), b.get(k)));
  }

  @Test
  void everyResourceVariableRoundTripsBitIdentically(@TempDir Path dir) {
    String prefix = dir.resolve("ckpt/variables").toString();
    Map<String, byte[]> saved;
    try (ResourceModel a = new ResourceModel(5, true)) {
      assertEquals(a.vars.all().size(), a.saver.keys().size());
      assertTrue(a.vars.all().size() > 50, "T0 has ~130 parameters");
      saved = a.values();
      a.saver.save(a.s, prefix);
    }
    assertTrue(Files.exists(Path.of(prefix + ".index")));
    try (ResourceModel b = new ResourceModel(6, true)) {
      Map<String, byte[]> before = b.values();
      // Every variable starts out different (weights, step, slot), so only a full restore passes.
      long same = saved.keySet().stream()
          .filter(k -> java.util.Arrays.equals(saved.get(k), before.get(k))).count();
      assertEquals(0, same, "variables equal before restore");
      b.saver.restore(b.s, prefix);
      assertSameValues(saved, b.values());
    }
  }

  @Test
  void tfJavasSaverLeavesResourceVariablesOutButUsesOursOnceBuilt(@TempDir Path dir) {
    try (ResourceModel plain = new ResourceModel(5, false)) {
      // TF Java builds its saver from VariableV2 ops only: nothing is written.
      plain.s.save(dir.resolve("tfjava/variables").toString());
      assertFalse(Files.exists(dir.resolve("tfjava/variables.index")));
    }
    String prefix = dir.resolve("ours/variables").toString();
    Map<String, byte[]> saved;
    try (ResourceModel a = new ResourceModel(5, true)) {
      saved = a.values();
      a.s.save(prefix); // Session.save finds save/restore_all and runs our saver
    }
    try (ResourceModel b = new ResourceModel(6, true)) {
      assertTrue(anyDiffers(saved, b.values()));
      b.s.restore(prefix);
      assertSameValues(saved, b.values());
    }
  }

  @Test
  void refVariableCheckpointsRestoreIntoResourceVariables(@TempDir Path dir) {
    String prefix = dir.resolve("v2/variables").toString();
    Map<String, byte[]> saved = new LinkedHashMap<>();
    // Today's layout: VariableV2 parameters (VariableParameters) and an int64 VariableV2 step,
    // checkpointed by TF Java's Session.save.
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var step = tf.withName("global_step").variable(Shape.scalar(), TInt64.class);
      var stepInit = tf.assign(step, tf.constant(1234L));
      VariableParameters params = new VariableParameters();
      new NFNet(T0).build(tf, tf.zeros(tf.constant(new long[] {1, 32, 32, 3}), TFloat32.class),
          params, ForwardOptions.inference());
      var init = params.initializer(tf, tf.constant(new long[] {9, 0x1234L}));
      String slot = "optimizer/momentum/" + params.entries().get(0).spec().tfName();
      var momentum = new NameScopes(tf).named(slot).variable(
          Shape.of(params.entries().get(0).spec().shape()), TFloat32.class);
      var slotInit = tf.assign(momentum, tf.fill(tf.constant(
          params.entries().get(0).spec().shape()), tf.constant(0.25f)));
      try (Session s = new Session(g)) {
        s.runner().addTarget(init).addTarget(stepInit).addTarget(slotInit).run();
        var r = s.runner().fetch(tf.identity(step)).fetch(tf.identity(momentum));
        params.entries().forEach(e -> r.fetch(e.read()));
        try (Result res = r.run()) {
          saved.put("global_step", bytes(res.get(0)));
          saved.put(slot, bytes(res.get(1)));
          for (int i = 0; i < params.entries().size(); i++) {
            saved.put(params.entries().get(i).spec().tfName(), bytes(res.get(i + 2)));
          }
        }
        s.save(prefix);
      }
    }
    try (ResourceModel b = new ResourceModel(6, true)) {
      Map<String, byte[]> before = b.values();
      long same = saved.keySet().stream()
          .filter(k -> java.util.Arrays.equals(saved.get(k), before.get(k))).count();
      assertEquals(0, same, "variables equal before restore");
      b.saver.restore(b.s, prefix); // the same keys: VariableV2 names = resource variable names
      Map<String, byte[]> after = b.values();
      assertEquals(after.keySet(), saved.keySet());
      saved.forEach((k, v) -> assertArrayEquals(v, after.get(k), k));
      assertEquals(1234L, java.nio.ByteBuffer.wrap(after.get("global_step"))
          .order(java.nio.ByteOrder.nativeOrder()).getLong());
    }
  }

  @Test
  void missingKeyIsAnErrorNamingTheKey(@TempDir Path dir) {
    String prefix = dir.resolve("partial/variables").toString();
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      ResourceVariables vars = new ResourceVariables();
      var v = vars.create(tf.withName("only_this"), "only_this", Shape.scalar(), TFloat32.class,
          tf.constant(1f), false);
      ResourceSaver saver = ResourceSaver.build(g, vars);
      try (Session s = new Session(g)) {
        s.runner().addTarget(v.initializer()).run();
        saver.save(s, prefix);
      }
    }
    try (ResourceModel b = new ResourceModel(6, true)) {
      Exception e = assertThrows(Exception.class, () -> b.saver.restore(b.s, prefix));
      assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }
  }

  private static byte[] bytes(Tensor t) {
    byte[] b = new byte[(int) t.numBytes()];
    t.asRawTensor().data().read(b);
    return b;
  }
}
