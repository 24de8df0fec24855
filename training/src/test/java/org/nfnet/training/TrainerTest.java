package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.training.data.Batch;
import org.nfnet.training.data.InputSource;
import org.nfnet.training.data.SyntheticInput;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/** The loop on T0 at 32 px, batch 4, synthetic data: resume, divergence, crash, signals. */
class TrainerTest {
  static final int RES = 32;
  static final int BATCH = 4;

  static NFNetConfig model() {
    return Fixtures.t0Config();
  }

  static InputSource input() {
    return new SyntheticInput(10, BATCH, RES, 64, 3L);
  }

  static TrainingConfig config(Path out, long steps) {
    return TrainingConfig.defaults(model(), steps, out).with(b -> b.baseLr(0.4)
        .checkpointEvery(0).eval(0, 1).logEvery(2));
  }

  @Test
  void resumeContinuesExactlyAndFilesAreWritten(@TempDir Path dir) throws Exception {
    Trainer.Result full = Trainer.train(config(dir.resolve("a"), 6), input(), null);
    assertEquals(Trainer.Status.COMPLETED, full.status());
    assertEquals(6, full.history().size());

    Trainer first = new Trainer();
    Trainer.Result part = first.run(config(dir.resolve("b"), 6), input(), new TrainingListener() {
      @Override
      public void onStep(TrainStep.StepMetrics m, double ips) {
        if (m.step() == 2) {
          first.requestStop();
        }
      }
    });
    assertEquals(Trainer.Status.INTERRUPTED, part.status());
    assertEquals(3, part.step());
    assertEquals(3, Checkpoints.meta(part.lastCheckpoint().orElseThrow()).step());
    Trainer.Result rest = Trainer.train(config(dir.resolve("b"), 6).with(b -> b.resume(true)), input(), null);
    assertEquals(Trainer.Status.COMPLETED, rest.status());
    assertEquals(3, rest.history().get(0).step(), "resumed at the saved global step");
    for (int i = 0; i < 3; i++) {
      TrainStep.StepMetrics a = full.history().get(3 + i);
      TrainStep.StepMetrics b = rest.history().get(i);
      assertEquals(a.step(), b.step());
      assertEquals(a.learningRate(), b.learningRate(), 0.0, "same schedule position");
      assertEquals(a.loss(), b.loss(), 1e-6 * Math.abs(a.loss()), "step " + a.step() + " loss");
    }
    System.out.printf("resume: losses %s vs %s%n", full.history().subList(3, 6).stream()
        .map(TrainStep.StepMetrics::loss).toList(), rest.history().stream()
        .map(TrainStep.StepMetrics::loss).toList());
    // Outputs: TensorBoard event file, final eval on the EMA weights (plots are the CLI's).
    try (Stream<Path> s = Files.list(dir.resolve("a/tensorboard"))) {
      assertTrue(s.anyMatch(p -> p.getFileName().toString().startsWith("events.out.tfevents")));
    }
    assertEquals(1, full.evals().size());
    assertTrue(full.evals().get(0).top5() >= full.evals().get(0).top1());
  }

  /** Input that turns into NaNs from global step 2 on. */
  static final class PoisonedInput implements InputSource {
    final InputSource inner = input();

    @Override
    public Batch build(Ops tf, Operand<TInt64> step) {
      Batch b = inner.build(tf, step);
      Operand<TFloat32> factor = tf.select(tf.math.greaterEqual(step, tf.constant(2L)),
          tf.constant(Float.NaN), tf.constant(1f));
      return new Batch(tf.math.mul(b.images(), factor), b.labels(), b.initializers());
    }

    @Override
    public int numClasses() {
      return 10;
    }

    @Override
    public long size() {
      return inner.size();
    }

    @Override
    public int batchSize() {
      return BATCH;
    }
  }

  @Test
  void nonFiniteLossStopsAndKeepsLastGoodCheckpoint(@TempDir Path dir) {
    Trainer.Result r = Trainer.train(config(dir, 10).with(b -> b.checkpointEvery(2)), new PoisonedInput(),
        null);
    assertEquals(Trainer.Status.DIVERGED, r.status());
    assertTrue(r.message().contains("NaN") && r.message().contains("step 2"), r.message());
    Checkpoints c = new Checkpoints(dir.resolve("checkpoints"), 3);
    assertEquals(2, Checkpoints.meta(c.latest().orElseThrow()).step());
    assertEquals(List.of(dir.resolve("checkpoints/ckpt-0000000002")), c.list());
  }

  static Process child(Path out, long steps, int every, String... jvmProps) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin",
        "java").toString(), "-cp", System.getProperty("java.class.path")));
    cmd.add("-Dnfnet.shared.dir=" + Fixtures.shared());
    cmd.addAll(List.of(jvmProps));
    cmd.addAll(List.of(TrainerChild.class.getName(), out.toString(), Long.toString(steps),
        Integer.toString(every)));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
    return pb.start();
  }

  /** Reads the child's output until a line starting with {@code prefix}; returns that line. */
  static String await(Process p, BufferedReader out, String prefix) throws Exception {
    String line;
    StringBuilder seen = new StringBuilder();
    while ((line = out.readLine()) != null) {
      if (line.startsWith(prefix)) {
        return line;
      }
      seen.append(line).append('\n');
    }
    throw new AssertionError("child ended (exit " + p.waitFor() + ") before '" + prefix + "':\n"
        + seen);
  }

  @Test
  void killDuringSaveKeepsPreviousCheckpointAndSigtermSaves(@TempDir Path dir) throws Exception {
    // 1. Checkpoint every step; the second save pauses mid-way and is killed with SIGKILL.
    Process p = child(dir, 100, 1, "-Dnfnet.checkpoint.pauseMillis=3000");
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
    await(p, out, "CHECKPOINT_PAUSE"); // first save (step 1), let it finish
    await(p, out, "CHECKPOINT_PAUSE"); // second save (step 2): kill it now
    p.destroyForcibly();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    Checkpoints c = new Checkpoints(dir.resolve("checkpoints"), 3);
    assertEquals(1, Checkpoints.meta(c.latest().orElseThrow()).step(), "previous checkpoint intact");
    try (Stream<Path> s = Files.list(dir.resolve("checkpoints"))) {
      assertTrue(s.anyMatch(q -> q.getFileName().toString().startsWith(".tmp-ckpt-")),
          "the interrupted save left only a temporary");
    }
    // 2. Resume from it in a child with no periodic checkpoints, then SIGTERM: it must save.
    Process q = child(dir, 1000, 0);
    BufferedReader qo = new BufferedReader(new InputStreamReader(q.getInputStream()));
    String first = await(q, qo, "STEP ");
    assertEquals("STEP 2", first, "resumed at step 1");
    await(q, qo, "STEP 3");
    q.destroy(); // SIGTERM
    assertTrue(q.waitFor(60, TimeUnit.SECONDS));
    long saved = Checkpoints.meta(c.latest().orElseThrow()).step();
    assertTrue(saved >= 3, "SIGTERM saved a checkpoint at step " + saved);
    try (Stream<Path> s = Files.list(dir.resolve("checkpoints"))) {
      assertTrue(s.noneMatch(x -> x.getFileName().toString().startsWith(".tmp-ckpt-")),
          "temporaries cleaned on restart");
    }
  }
}
