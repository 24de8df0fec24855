package org.nfnet.training;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * Learning rate as a function of the global step, both as a graph tensor (so one compiled step
 * serves the whole run and a resumed run continues on the same curve) and on the host (for
 * tests, logging and plots).
 */
public interface LearningRateSchedule {
  /** The learning rate at {@code step} (the number of updates already applied), in-graph. */
  Operand<TFloat32> at(Ops tf, Operand<TInt64> step);

  /** The same value computed on the host. */
  double valueAt(long step);

  /** The paper's base rate 0.1 scaled linearly with batch size: {@code 0.1 * batch / 256}. */
  static double scaledBaseRate(double base, int batchSize) {
    return base * batchSize / 256.0;
  }

  static LearningRateSchedule constant(double lr) {
    return new LearningRateSchedule() {
      @Override
      public Operand<TFloat32> at(Ops tf, Operand<TInt64> step) {
        return tf.constant((float) lr);
      }

      @Override
      public double valueAt(long step) {
        return lr;
      }
    };
  }

  /**
   * DeepMind's {@code WarmupCosineDecay}: linear from {@code startVal} to {@code maxVal} over
   * {@code warmupSteps}, then half a cosine from {@code maxVal} down to {@code minVal} at
   * {@code numSteps}. Warm-up avoids the large early updates that destabilise un-normalised nets
   * at high learning rates; at {@code step == warmupSteps} both branches equal {@code maxVal}.
   */
  record WarmupCosineDecay(double startVal, double minVal, double maxVal, long numSteps,
      long warmupSteps) implements LearningRateSchedule {

    public WarmupCosineDecay {
      if (numSteps <= warmupSteps) {
        throw new IllegalArgumentException("numSteps (" + numSteps + ") must exceed warmupSteps ("
            + warmupSteps + ")");
      }
    }

    @Override
    public Operand<TFloat32> at(Ops tf, Operand<TInt64> step) {
      Ops s = tf.withSubScope("lr_schedule");
      // Float64 arithmetic: float32 step counts lose integer precision beyond 2^24 steps.
      Operand<org.tensorflow.types.TFloat64> t = s.dtypes.cast(step, org.tensorflow.types.TFloat64.class);
      Operand<org.tensorflow.types.TFloat64> warm = s.math.add(s.constant(startVal),
          s.math.mul(s.constant((maxVal - startVal) / Math.max(1L, warmupSteps)), t));
      Operand<org.tensorflow.types.TFloat64> progress = s.math.div(
          s.math.sub(t, s.constant((double) warmupSteps)), s.constant((double) (numSteps - warmupSteps)));
      // Past numSteps the cosine would rise again; hold at the minimum instead.
      progress = s.math.minimum(progress, s.constant(1.0));
      Operand<org.tensorflow.types.TFloat64> cos = s.math.add(s.constant(1.0),
          s.math.cos(s.math.mul(s.constant(Math.PI), progress)));
      Operand<org.tensorflow.types.TFloat64> cosVal = s.math.add(
          s.math.mul(s.constant(0.5 * (maxVal - minVal)), cos), s.constant(minVal));
      Operand<org.tensorflow.types.TFloat64> v = s.select(
          s.math.lessEqual(t, s.constant((double) warmupSteps)), warm, cosVal);
      return s.dtypes.cast(v, TFloat32.class);
    }

    @Override
    public double valueAt(long step) {
      if (step <= warmupSteps) {
        return startVal + (maxVal - startVal) * step / Math.max(1L, warmupSteps);
      }
      double p = Math.min(1.0, (double) (step - warmupSteps) / (numSteps - warmupSteps));
      return 0.5 * (maxVal - minVal) * (1 + Math.cos(Math.PI * p)) + minVal;
    }
  }
}
