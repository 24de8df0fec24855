package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.ResourceParameters;
import org.nfnet.zoo.graph.ResourceSaver;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.VariableDef;
import org.tensorflow.types.TFloat32;

/**
 * A SavedModel of resource variables written by {@link ResourceSavedModel} loads in a fresh TF
 * Java session (TF's C++ SavedModel loader, as TF Serving uses) with every variable bit-identical
 * and the same logits.
 */
class ResourceSavedModelTest {

  private static byte[] bytes(Tensor t) {
    byte[] b = new byte[(int) t.numBytes()];
    t.asRawTensor().data().read(b);
    return b;
  }

  @Test
  void resourceVariablesSurviveExportAndLoad(@TempDir Path tmp) throws Exception {
    NFNetConfig t0 = TestModels.t0();
    Path dir = tmp.resolve("export");
    float[] pixels = new float[2 * 32 * 32 * 3];
    Random r = new Random(3);
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (float) r.nextGaussian();
    }
    byte[] logits;
    Map<String, byte[]> values = new LinkedHashMap<>();
    List<String> snapshots = new ArrayList<>();
    try (Graph g = new Graph(); Session s = new Session(g);
        TFloat32 x = TFloat32.tensorOf(Shape.of(2, 32, 32, 3), DataBuffers.of(pixels))) {
      Ops tf = Ops.create(g);
      ResourceVariables vars = new ResourceVariables();
      var images = tf.withName("images").placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(-1, 32, 32, 3)));
      ResourceParameters params = new ResourceParameters(vars, tf.constant(new long[] {4, 2}));
      var out = new NFNet(t0).build(tf, images, params, ForwardOptions.inference());
      var init = vars.initializer(tf.withName("init_all"));
      // Skip gains start at 0 (SkipInit): switch the residual branches on for a stronger check.
      List<org.tensorflow.op.Op> on = new ArrayList<>();
      params.entries().stream().filter(e -> e.spec().name().equals("skip_gain"))
          .forEach(e -> on.add(e.variable().assign(tf, tf.constant(0.75f))));
      var branchesOn = tf.withControlDependencies(on).noOp();
      ResourceSaver saver = ResourceSaver.build(g, vars);
      s.runner().addTarget(init).run();
      s.runner().addTarget(branchesOn).run();
      var run = s.runner().feed(images, x).fetch(out.logits());
      vars.all().forEach(v -> run.fetch(v.snapshot()));
      try (Result res = run.run()) {
        logits = bytes(res.get(0));
        for (int i = 0; i < vars.all().size(); i++) {
          values.put(vars.all().get(i).name(), bytes(res.get(i + 1)));
          snapshots.add(vars.all().get(i).snapshot().asOutput().op().name());
        }
      }
      ResourceSavedModel.write(s, vars, saver, Map.of("serving_default",
              ResourceSavedModel.signature("tensorflow/serving/predict",
                  Map.of("images", images), Map.of("logits", out.logits()))),
          null, List.of("serve"), dir);
      // Never overwrites.
      assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> ResourceSavedModel.write(s, vars, saver,
          Map.of(), null, List.of("serve"), dir));
    }
    assertTrue(Files.size(dir.resolve("variables/variables.index")) > 0);
    MetaGraphDef mg = SavedModel.parseFrom(Files.readAllBytes(dir.resolve("saved_model.pb")))
        .getMetaGraphs(0);
    assertEquals(values.size(), mg.getCollectionDefOrThrow("variables").getBytesList()
        .getValueCount());
    VariableDef first = VariableDef.parseFrom(mg.getCollectionDefOrThrow("trainable_variables")
        .getBytesList().getValue(0));
    assertTrue(first.getIsResource());

    try (SavedModelBundle b = SavedModelBundle.load(dir.toString(), "serve");
        TFloat32 x = TFloat32.tensorOf(Shape.of(2, 32, 32, 3), DataBuffers.of(pixels))) {
      var run = b.session().runner();
      snapshots.forEach(run::fetch);
      try (Result res = run.run()) {
        int i = 0;
        for (var e : values.entrySet()) {
          assertArrayEquals(e.getValue(), bytes(res.get(i++)), e.getKey());
        }
      }
      try (Result res = b.function("serving_default").call(Map.of("images", x))) {
        assertArrayEquals(logits, bytes(res.get("logits").get()));
      }
    }
    // The reader side: variables/ restores into a live graph of the same variables.
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      ResourceVariables vars = new ResourceVariables();
      new NFNet(t0).build(tf, tf.zeros(tf.constant(new long[] {1, 32, 32, 3}), TFloat32.class),
          new ResourceParameters(vars, null), ForwardOptions.inference());
      ResourceSaver saver = ResourceSaver.build(g, vars);
      s.runner().addTarget(vars.initializer(tf.withName("zeros"))).run();
      saver.restore(s, ResourceSavedModel.variablesPrefix(dir).toString());
      var run = s.runner();
      vars.all().forEach(v -> run.fetch(v.snapshot()));
      try (Result res = run.run()) {
        int i = 0;
        for (var e : values.entrySet()) {
          assertArrayEquals(e.getValue(), bytes(res.get(i++)), e.getKey());
        }
      }
    }
  }
}
