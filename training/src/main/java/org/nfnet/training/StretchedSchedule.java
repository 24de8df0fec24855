package org.nfnet.training;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt64;

/**
 * A {@link LearningRateSchedule.WarmupCosineDecay} whose run length was changed while training:
 * each {@link Stretch} says "from step {@code from} on, the run ends at {@code total}". The cosine
 * continues from the progress it had reached at {@code from} and reaches its minimum exactly at
 * the new total, so the learning rate is continuous (no jump back to the peak, no restart of the
 * warm-up) and a resumed run can be made longer or shorter. Warm-up steps stay as first planned.
 *
 * <p>Progress through the cosine is piecewise linear in the step: before the first stretch it is
 * the base schedule's {@code (t - warmup) / (numSteps - warmup)}; in the segment starting at a
 * stretch with progress {@code p0} it is {@code p0 + (1 - p0) (t - from) / (total - from)}.
 */
public final class StretchedSchedule implements LearningRateSchedule {
  /** From global step {@code from} on, the run ends at step {@code total}. */
  public record Stretch(long from, long total) {}

  private record Segment(long start, double p0, long end) {
    double progress(long t) {
      return Math.min(1.0, p0 + (1 - p0) * (t - start) / (double) (end - start));
    }
  }

  private final LearningRateSchedule.WarmupCosineDecay base;
  private final List<Segment> segments = new ArrayList<>();

  /**
   * @param stretches in the order they were made, each {@code from} at or after the previous one
   * @throws IllegalArgumentException if a new total does not lie beyond both its step and the warm-up
   */
  public StretchedSchedule(LearningRateSchedule.WarmupCosineDecay base, List<Stretch> stretches) {
    this.base = base;
    long w = base.warmupSteps();
    segments.add(new Segment(w, 0.0, base.numSteps()));
    for (Stretch s : stretches) {
      long start = Math.max(s.from(), w);
      if (s.total() <= start) {
        throw new IllegalArgumentException("a run length of " + s.total() + " steps must exceed "
            + (s.from() >= w ? "the step it is set at (" + s.from() + ")"
            : "the warm-up (" + w + " steps)"));
      }
      Segment last = segments.get(segments.size() - 1);
      if (start < last.start()) {
        throw new IllegalArgumentException("stretches must be in step order");
      }
      segments.add(new Segment(start, progressAt(start), s.total()));
    }
  }

  /** The step at which the learning rate reaches its minimum. */
  public long totalSteps() {
    return segments.get(segments.size() - 1).end();
  }

  private double progressAt(long t) {
    Segment seg = segments.get(0);
    for (Segment s : segments) {
      if (t >= s.start()) {
        seg = s;
      }
    }
    return seg.progress(t);
  }

  @Override
  public double valueAt(long step) {
    if (step <= base.warmupSteps()) {
      return base.valueAt(step);
    }
    double p = progressAt(step);
    return 0.5 * (base.maxVal() - base.minVal()) * (1 + Math.cos(Math.PI * p)) + base.minVal();
  }

  @Override
  public Operand<TFloat32> at(Ops tf, Operand<TInt64> step) {
    Ops s = tf.withSubScope("lr_schedule");
    Operand<TFloat64> t = s.dtypes.cast(step, TFloat64.class);
    Operand<TFloat64> progress = null;
    for (Segment seg : segments) {
      Operand<TFloat64> p = s.math.minimum(s.constant(1.0), s.math.add(s.constant(seg.p0()),
          s.math.mul(s.constant((1 - seg.p0()) / (seg.end() - seg.start())),
              s.math.sub(t, s.constant((double) seg.start())))));
      progress = progress == null ? p
          : s.select(s.math.greaterEqual(t, s.constant((double) seg.start())), p, progress);
    }
    Operand<TFloat64> cos = s.math.add(s.math.mul(s.constant(0.5 * (base.maxVal() - base.minVal())),
        s.math.add(s.constant(1.0), s.math.cos(s.math.mul(s.constant(Math.PI), progress)))),
        s.constant(base.minVal()));
    long w = base.warmupSteps();
    Operand<TFloat64> warm = s.math.add(s.constant(base.startVal()),
        s.math.mul(s.constant((base.maxVal() - base.startVal()) / Math.max(1L, w)), t));
    return s.dtypes.cast(s.select(s.math.lessEqual(t, s.constant((double) w)), warm, cos),
        TFloat32.class);
  }
}
