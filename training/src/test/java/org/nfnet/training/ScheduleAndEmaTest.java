package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** Warm-up + cosine values at chosen steps (host and graph) and the EMA warm-up. */
class ScheduleAndEmaTest {

  @Test
  void warmupCosineValues() {
    // Batch 512: max LR 0.1 * 512 / 256 = 0.2; 100 warm-up steps, 1100 total.
    var s = new LearningRateSchedule.WarmupCosineDecay(0, 0,
        LearningRateSchedule.scaledBaseRate(0.1, 512), 1100, 100);
    assertEquals(0.0, s.valueAt(0), 1e-12);
    assertEquals(0.05, s.valueAt(25), 1e-12);
    assertEquals(0.2, s.valueAt(100), 1e-12);
    assertEquals(0.1, s.valueAt(600), 1e-12); // half-way through the cosine
    assertEquals(0.2 * 0.5 * (1 + Math.cos(Math.PI * 0.25)), s.valueAt(350), 1e-12);
    assertEquals(0.0, s.valueAt(1100), 1e-12);
    assertEquals(0.0, s.valueAt(5000), 1e-12); // held at the minimum after the end
    try (Graph g = new Graph(); Session sess = new Session(g)) {
      Ops tf = Ops.create(g);
      long[] steps = {0, 25, 100, 350, 600, 1100};
      var ts = new java.util.ArrayList<org.tensorflow.Operand<TFloat32>>();
      for (long st : steps) {
        ts.add(s.at(tf, tf.constant(st)));
      }
      var r = sess.runner();
      ts.forEach(r::fetch);
      try (Result res = r.run()) {
        for (int i = 0; i < steps.length; i++) {
          assertEquals(s.valueAt(steps[i]), ((TFloat32) res.get(i)).getFloat(), 1e-7,
              "step " + steps[i]);
        }
      }
    }
  }

  @Test
  void trainingConfigScheduleUsesFiveEpochsWarmup() {
    TrainingConfig c = TrainingConfig.defaults(Fixtures.t0Config(), 1000, java.nio.file.Path.of("x"));
    // 6400 examples / batch 32 = 200 steps per epoch -> warm-up capped to half the run (500).
    var s = (LearningRateSchedule.WarmupCosineDecay) c.schedule(6400, 32);
    assertEquals(500, s.warmupSteps());
    assertEquals(0.0125, s.maxVal(), 1e-12);
    var s2 = (LearningRateSchedule.WarmupCosineDecay) c.with(b -> b.steps(100000)).schedule(6400, 32);
    assertEquals(1000, s2.warmupSteps());
  }

  @Test
  void emaWarmup() {
    ExponentialMovingAverage ema = new ExponentialMovingAverage(0.999);
    assertEquals(0.1, ema.effectiveDecay(0), 1e-15);
    assertEquals(2.0 / 11.0, ema.effectiveDecay(1), 1e-15);
    assertEquals(101.0 / 110.0, ema.effectiveDecay(100), 1e-15);
    assertEquals(0.999, ema.effectiveDecay(100000), 1e-15);
    try (Graph g = new Graph(); Session sess = new Session(g)) {
      Ops tf = Ops.create(g);
      var d = ema.effectiveDecay(tf, tf.constant(100L));
      var avg = new org.nfnet.zoo.graph.ResourceVariables().create(tf.withName("avg"), "avg",
          org.tensorflow.ndarray.Shape.of(2), TFloat32.class, tf.constant(new float[] {1f, 3f}),
          false);
      var upd = ExponentialMovingAverage.apply(tf, avg, tf.constant(new float[] {0f, 5f}), d);
      sess.runner().addTarget(avg.initializer()).run();
      try (Result r = sess.runner().fetch(d).addTarget(upd).run()) {
        assertEquals(101.0 / 110.0, ((TFloat32) r.get(0)).getFloat(), 1e-7);
      }
      try (Result r = sess.runner().fetch(avg.read(tf)).run()) {
        TFloat32 t = (TFloat32) r.get(0);
        assertEquals(101.0 / 110.0, t.getFloat(0), 1e-7);
        assertEquals(3.0 * 101.0 / 110.0 + 5.0 * 9.0 / 110.0, t.getFloat(1), 1e-6);
      }
    }
  }
}
