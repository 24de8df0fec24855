package org.nfnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.training.Checkpoints;
import org.nfnet.training.data.FixedBatchInput;
import org.nfnet.training.LearningRateSchedule;
import org.nfnet.training.OptimizerConfig;
import org.nfnet.training.StepConfig;
import org.nfnet.training.TrainStep;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * Issue 20: {@code nfnet export --train-step RUN_DIR} of a real (interrupted) T0 run, loaded in a
 * fresh JVM, continues training from the run's checkpoint step on the losses that the run's own
 * {@link TrainStep} (a second instance in this JVM), restored from the same checkpoint with the
 * run's recipe written out here by hand, gets on the same batch; its {@code logits_from_normalized} equals the
 * logits of the checkpoint's EMA weights exported by the existing serving exporter.
 */
class ExportTrainStepCliTest {
  private static final int B = 4;
  private static final int R = 32;
  private static final int STEPS = 3;

  @TempDir Path tmp;

  @Test
  void exportedTrainStepContinuesTheRunInAFreshJvm() throws Exception {
    String t0 = Path.of("..", "variants", "t0.json").toAbsolutePath().normalize().toString();
    Path run = tmp.resolve("run");
    Cli.Run train = Cli.run("train", "--variant", t0, "--data", "fashion-mnist-subset",
        "--steps", "6", "--batch", Integer.toString(B), "--res", Integer.toString(R),
        "--checkpoint-every", "3", "--eval-every", "6", "--eval-batches", "1",
        "--no-regularize", "--no-export", "--no-progress", "--out", run.toString());
    assertEquals(0, train.code(), train.all());
    // As if the run had been interrupted after step 3: its newest checkpoint is ckpt-3, half-way
    // through the cosine schedule (past step 6 the rate is 0 and nothing would move).
    Path ckpt = run.resolve("checkpoints").resolve("ckpt-0000000003");
    assertTrue(Files.isDirectory(ckpt), ckpt.toString());
    try (var files = Files.walk(run.resolve("checkpoints").resolve("ckpt-0000000006"))) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(f);
      }
    }

    Path export = tmp.resolve("trainable");
    Cli.Run ex = Cli.run("export", "--train-step", run.toString(), "--out", export.toString());
    assertEquals(0, ex.code(), ex.all());
    assertTrue(ex.out().contains("step 3"), ex.out());
    Cli.Run again = Cli.run("export", "--train-step", run.toString(), "--out", export.toString());
    assertEquals(2, again.code(), again.all());
    assertTrue(again.err().contains(export.getFileName().toString()) && again.err().contains("already exists"),
        again.err());

    float[] x = new float[B * R * R * 3];
    Random rnd = new Random(20);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    int[] y = {0, 3, 7, 9};
    Path batch = tmp.resolve("batch.bin");
    try (DataOutputStream o = new DataOutputStream(Files.newOutputStream(batch))) {
      o.writeInt(B);
      o.writeInt(R);
      for (float f : x) {
        o.writeFloat(f);
      }
      for (int l : y) {
        o.writeInt(l);
      }
    }
    // The fresh JVM runs while this one computes the reference.
    Process childJvm = startChild(export, batch);

    // The reference: the run's recipe by hand - batch 4 at lr 0.1 x 4/256, 6 steps, warm-up
    // 5 epochs capped at half the run (3 steps), AGC 0.01, wd 2e-5, EMA 0.999, smoothing 0.1.
    NFNetConfig model = NFNetConfig.resolve(t0);
    StepConfig cfg = StepConfig.defaults().with(b -> b
        .schedule(new LearningRateSchedule.WarmupCosineDecay(0, 0, 0.1 * B / 256, 6, 3))
        .optimizer(OptimizerConfig.deepMind().withClipping(0.01).withWeightDecay(2e-5))
        .emaDecay(0.999).regularize(false).seed(0));
    List<Double> reference = new ArrayList<>();
    Path emaExport = tmp.resolve("ema");
    try (TrainStep s = TrainStep.create(model, new FixedBatchInput(x, y, R, R, 10), cfg)) {
      Checkpoints.restore(s, ckpt);
      ModelExport.export(s, model, emaExport, 0, null, new LinkedHashMap<>());
      for (int i = 0; i < STEPS; i++) {
        TrainStep.StepMetrics m = s.run(false);
        assertEquals(3L + i, m.step());
        reference.add(m.loss());
      }
    }
    Map<String, String> child = await(childJvm);
    assertEquals("encoded,features,logits_from_normalized,serving_default,train_step",
        child.get("signatures"));
    assertEquals("3", child.get("global_step"), "starts at the checkpoint's step");
    assertEquals(Long.toString(3 + STEPS), child.get("global_step_end"), "one increment per call");
    List<Float> exported = new ArrayList<>();
    for (int i = 0; i < STEPS; i++) {
      exported.add(Float.parseFloat(child.get("loss" + i)));
    }
    System.out.println("losses from step 3: exported " + exported + ", TrainStep " + reference);
    for (int i = 0; i < STEPS; i++) {
      assertEquals(reference.get(i), exported.get(i), 1e-5 * Math.abs(reference.get(i)),
          "loss of step " + (3 + i) + ": exported " + exported + " vs TrainStep " + reference);
    }
    assertTrue(reference.get(STEPS - 1) < reference.get(0), "it trains: " + reference);

    try (SavedModelBundle b = SavedModelBundle.load(emaExport.toString());
        TFloat32 in = TFloat32.tensorOf(Shape.of(B, R, R, 3), DataBuffers.of(x));
        Result r = b.function("logits_from_normalized").call(Map.of("normalized", in))) {
      // The classifier starts at zero (DeepMind's init), so after 3 steps the logits are ~1e-2:
      // they are compared relative to their own scale, the pooled features (~1) absolutely.
      assertClose("logits", (TFloat32) r.get("logits").get(), child.get("logits"), B * 10);
      assertClose("pooled", (TFloat32) r.get("pooled").get(), child.get("pooled"), -1);
    }
  }

  /** {@code got} within 1e-5 of {@code want}, relative to the largest magnitude in {@code want}. */
  private static void assertClose(String what, TFloat32 want, String got, int size) {
    float[] w = new float[(int) want.size()];
    want.asRawTensor().data().asFloats().read(w);
    String[] g = got.trim().split(" ");
    if (size >= 0) {
      assertEquals(size, w.length, what);
    }
    assertEquals(w.length, g.length, what);
    double scale = 0;
    double diff = 0;
    for (int i = 0; i < w.length; i++) {
      scale = Math.max(scale, Math.abs(w[i]));
      diff = Math.max(diff, Math.abs(w[i] - Float.parseFloat(g[i])));
    }
    System.out.printf("%s: max |exported - EMA export| = %.3g, max |EMA export| = %.3g%n", what, diff,
        scale);
    assertTrue(scale > 1e-3, what + " not all ~0");
    assertTrue(diff <= 1e-5 * scale, what + ": max difference " + diff + " at scale " + scale);
  }

  @Test
  void aRunWithoutCheckpointOrRunFileIsNamed() throws Exception {
    Path run = Files.createDirectories(tmp.resolve("norun"));
    Cli.Run none = Cli.run("export", "--train-step", run.toString(), "--out", tmp.resolve("o").toString());
    assertEquals(2, none.code(), none.all());
    assertTrue(none.err().contains(run.toString()) && none.err().contains("run.json"), none.err());
    Files.writeString(run.resolve("run.json"), "{\"variant\": \"F0\", \"data\": \"fashion-mnist-subset\"}");
    Cli.Run noCkpt = Cli.run("export", "--train-step", run.toString(), "--out", tmp.resolve("o").toString());
    assertEquals(2, noCkpt.code(), noCkpt.all());
    assertTrue(noCkpt.err().contains("no intact checkpoint in " + run.resolve("checkpoints")),
        noCkpt.err());
    assertFalse(Files.exists(tmp.resolve("o")));
  }

  /** Starts {@link TrainStepChild} in a new JVM. */
  private static Process startChild(Path export, Path batch) throws Exception {
    List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx2g", "-cp", System.getProperty("java.class.path"), TrainStepChild.class.getName(),
        export.toString(), batch.toString(), Integer.toString(STEPS));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
    return pb.start();
  }

  /** The child's "key value" lines by key, after it exits successfully. */
  private static Map<String, String> await(Process p) throws Exception {
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    Map<String, String> m = new LinkedHashMap<>();
    int losses = 0;
    for (String line : out.split("\n")) {
      int sp = line.indexOf(' ');
      if (sp < 0) {
        continue;
      }
      String k = line.substring(0, sp);
      String v = line.substring(sp + 1);
      switch (k) {
        case "loss" -> m.put("loss" + losses++, v);
        case "global_step" -> m.put(m.containsKey("global_step") ? "global_step_end" : k, v);
        case "logits", "pooled", "signatures" -> m.put(k, v);
        default -> { }
      }
    }
    assertEquals(STEPS, losses, out);
    return m;
  }
}
