package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/** Issue 17: a resumed run's new length stretches the cosine from where it was, without a jump. */
class StretchedScheduleTest {
  // Peak 1, warm-up 10 of 110 planned steps: the cosine runs over steps 10..110.
  private static final LearningRateSchedule.WarmupCosineDecay BASE =
      new LearningRateSchedule.WarmupCosineDecay(0, 0, 1.0, 110, 10);

  private static double cos(double p) {
    return 0.5 * (1 + Math.cos(Math.PI * p));
  }

  @Test
  void stretchedHandValues() {
    // Resumed at step 60 (progress 0.5, lr 0.5) to a total of 260, then at 160 to 210.
    StretchedSchedule s = new StretchedSchedule(BASE, List.of(new StretchedSchedule.Stretch(60, 260),
        new StretchedSchedule.Stretch(160, 210)));
    assertEquals(0.5, s.valueAt(5), 1e-12, "warm-up unchanged");
    assertEquals(BASE.valueAt(59), s.valueAt(59), 1e-12, "before the stretch: the planned run");
    assertEquals(0.5, s.valueAt(60), 1e-12, "continuous at the stretch");
    // Between: progress 0.5 + 0.5 (t - 60) / 200; at 160 it is 0.75.
    assertEquals(cos(0.5 + 0.5 * 40 / 200.0), s.valueAt(100), 1e-12);
    assertEquals(cos(0.75), s.valueAt(160), 1e-12);
    // Second stretch: progress 0.75 + 0.25 (t - 160) / 50, reaching 1 (lr 0) at 210.
    assertEquals(cos(0.75 + 0.25 * 25 / 50.0), s.valueAt(185), 1e-12);
    assertEquals(0.0, s.valueAt(210), 1e-12);
    assertEquals(0.0, s.valueAt(500), 1e-12, "held at the minimum");
    assertEquals(210, s.totalSteps());
    // No jump anywhere: neighbouring steps differ by at most the steepest planned step.
    double steepest = 0;
    for (long t = 11; t <= 110; t++) {
      steepest = Math.max(steepest, Math.abs(BASE.valueAt(t) - BASE.valueAt(t - 1)));
    }
    for (long t = 11; t <= 260; t++) {
      assertEquals(s.valueAt(t - 1), s.valueAt(t), steepest + 1e-12, "step " + t);
    }
  }

  @Test
  void resumedInsideTheWarmUpKeepsTheWarmUp() {
    StretchedSchedule s = new StretchedSchedule(BASE, List.of(new StretchedSchedule.Stretch(4, 210)));
    assertEquals(BASE.valueAt(7), s.valueAt(7), 1e-12);
    assertEquals(1.0, s.valueAt(10), 1e-12);
    assertEquals(cos(100 / 200.0), s.valueAt(110), 1e-12, "the cosine now spans 10..210");
  }

  @Test
  void aTotalNotBeyondTheStepIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> new StretchedSchedule(BASE,
        List.of(new StretchedSchedule.Stretch(60, 60))));
    assertThrows(IllegalArgumentException.class, () -> new StretchedSchedule(BASE,
        List.of(new StretchedSchedule.Stretch(2, 8))), "ends inside the warm-up");
  }

  @Test
  void graphMatchesHost() {
    StretchedSchedule s = new StretchedSchedule(BASE, List.of(new StretchedSchedule.Stretch(60, 260),
        new StretchedSchedule.Stretch(160, 210)));
    try (Graph g = new Graph(); Session session = new Session(g)) {
      Ops tf = Ops.create(g);
      var step = tf.placeholder(TInt64.class);
      var lr = s.at(tf, step);
      for (long t : new long[] {0, 5, 10, 59, 60, 100, 160, 185, 210, 300}) {
        try (TInt64 in = TInt64.scalarOf(t);
            var r = session.runner().feed(step, in).fetch(lr).run()) {
          assertEquals(s.valueAt(t), ((TFloat32) r.get(0)).getFloat(), 1e-6, "step " + t);
        }
      }
    }
  }
}
