package org.nfnet.training;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ResourceParameters;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * Exponential moving average of the weights, used for evaluation and export (DeepMind evaluates
 * and releases the EMA parameters).
 *
 * <p>TF1-style warm-up: the decay used after {@code t} updates is
 * {@code min(decay, (1 + t) / (10 + t))}. Early on the weights move fast and a 0.99999 average
 * would be dominated by the random init for hundreds of thousands of steps; the warm-up makes the
 * average track the weights closely at first and only reach the nominal decay later.
 *
 * <p>Defaults: {@link #IMAGENET_DECAY} (0.99999, DeepMind's 360-epoch ImageNet runs, an averaging
 * horizon of ~100k steps) and {@link #SHORT_RUN_DECAY} (0.999, ~1k steps) for runs of a few
 * thousand steps such as Fashion-MNIST demos, where 0.99999 would still be in warm-up at the end.
 */
public final class ExponentialMovingAverage {
  public static final double IMAGENET_DECAY = 0.99999;
  public static final double SHORT_RUN_DECAY = 0.999;
  public static final String SCOPE = "ema";

  private final double decay;
  private final Map<String, ResourceVariables.Variable<TFloat32>> averages = new LinkedHashMap<>();

  /** The decay rule alone (no averages): host-side and in-graph {@link #effectiveDecay}. */
  public ExponentialMovingAverage(double decay) {
    if (!(decay >= 0 && decay < 1)) {
      throw new IllegalArgumentException("EMA decay must be in [0, 1), got " + decay);
    }
    this.decay = decay;
  }

  /** With one average per parameter of {@code specs}, {@code ema/<tfName>}, made by {@code state}. */
  ExponentialMovingAverage(double decay, TrainState state, List<ParameterSpec> specs) {
    this(decay);
    for (ParameterSpec p : specs) {
      averages.put(p.haikuKey(), state.variable(SCOPE + "/" + p.tfName(), p.shape()));
    }
  }

  /** The average of a parameter (Haiku key), or null. */
  ResourceVariables.Variable<TFloat32> average(String haikuKey) {
    return averages.get(haikuKey);
  }

  /** Ops setting every average to its parameter's current value. */
  List<Op> sync(Ops tf, ResourceParameters params) {
    List<Op> ops = new ArrayList<>();
    for (ResourceParameters.Entry e : params.entries()) {
      ops.add(averages.get(e.spec().haikuKey()).assign(tf, e.variable().read(tf)));
    }
    return ops;
  }

  /**
   * Moves each average with a new value towards it; averages of parameters without a new value
   * (frozen) stay. The new values are the optimizer's tensors, not reads of the updated
   * parameters: under XLA a resource read after a write of the same step would split the cluster.
   *
   * @param step the global step before this update (the warm-up's {@code t})
   */
  List<Op> update(Ops tf, Operand<TInt64> step, Map<String, Operand<TFloat32>> newValues) {
    Ops e = tf.withSubScope("ema_update");
    Operand<TFloat32> d = e.withName("decay").identity(effectiveDecay(e, step));
    List<Op> ops = new ArrayList<>();
    averages.forEach((key, v) -> {
      Operand<TFloat32> nv = newValues.get(key);
      if (nv != null) {
        ops.add(apply(e, v, nv, d));
      }
    });
    return ops;
  }

  public double decay() {
    return decay;
  }

  /** Decay applied by the update after {@code t} previous updates, on the host. */
  public double effectiveDecay(long t) {
    return Math.min(decay, (1.0 + t) / (10.0 + t));
  }

  /** The same, in-graph, as a float32 scalar. */
  public Operand<TFloat32> effectiveDecay(Ops tf, Operand<TInt64> t) {
    Operand<org.tensorflow.types.TFloat64> tt = tf.dtypes.cast(t, org.tensorflow.types.TFloat64.class);
    Operand<org.tensorflow.types.TFloat64> warm = tf.math.div(tf.math.add(tt, tf.constant(1.0)),
        tf.math.add(tt, tf.constant(10.0)));
    return tf.dtypes.cast(tf.math.minimum(warm, tf.constant(decay)), TFloat32.class);
  }

  /**
   * {@code average <- d * average + (1 - d) * value}, in place as
   * {@code average -= (1 - d) * (average - value)} with TF's fused
   * {@code ResourceApplyGradientDescent} (step size {@code 1 - d}, "gradient"
   * {@code average - value}): two full-size passes and no copy of the 71.5M-parameter average,
   * instead of four passes and an assignment.
   */
  public static Op apply(Ops tf, ResourceVariables.Variable<TFloat32> average,
      Operand<TFloat32> value, Operand<TFloat32> d) {
    Operand<TFloat32> diff = tf.math.sub(average.read(tf), value);
    return tf.train.resourceApplyGradientDescent(average.handle(),
        tf.math.sub(tf.constant(1.0f), d), diff);
  }
}
