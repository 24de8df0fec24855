package org.nfnet.training;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.VariableParameters;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.train.ApplyMomentum;
import org.tensorflow.types.TFloat32;

/**
 * SGD with Adaptive Gradient Clipping, weight decay and (Nesterov) momentum, DeepMind's
 * {@code SGD_AGC}, per parameter in this order:
 * <ol>
 *   <li>AGC clip ({@link AdaptiveGradientClipping}, groups in
 *       {@link OptimizerConfig#clippedGroups()}), on the raw gradient;</li>
 *   <li>{@code g += weight_decay * W} (groups in {@link OptimizerConfig#decayedGroups()}) &mdash;
 *       after clipping, so decay is never clipped away;</li>
 *   <li>{@code buf <- mu * buf + g}, then {@code W <- W - lr * (g + mu * buf)} (Nesterov) or
 *       {@code W <- W - lr * buf}, in place with TF's fused {@code ApplyMomentum} (one kernel
 *       reads gradient, buffer and parameter once: the update is memory-bound).</li>
 * </ol>
 *
 * <p>Shaped like TF Java's framework optimizers: the optimizer owns its slots (one momentum buffer
 * per trainable parameter, {@code optimizer/momentum/<parameter variable name>}, created with the
 * optimizer through {@link TrainState}), and has one entry point, {@link #apply} (gradients,
 * parameters and a learning-rate operand in, the update op out), which also orders every update
 * after every read of the old values.
 *
 * <p>Why it does not extend {@code org.tensorflow.framework.optimizers.Optimizer} (1.1.0, read from
 * its source). Two of its known blockers can be worked around: the float learning rate is only
 * {@code Momentum}'s (a subclass can hold an operand), and {@code applyDense} seeing the variable's
 * ref output is harmless for weight decay (an {@code Identity} built in its dependency scope reads
 * the value after all gradients). These cannot:
 * <ul>
 *   <li>Slots: {@code Optimizer.createSlot} always creates a {@code VariableV2}
 *       ({@code tf.variable}) named {@code <variable>-<slot>}, and {@code getSlot} returns that
 *       {@code Variable}: slots cannot become resource variables (issue 20), and the names would
 *       orphan the {@code optimizer/momentum/...} entries of every existing checkpoint.</li>
 *   <li>Slot initialisation: {@code createSlot} registers the initialiser
 *       ({@code fill(shape(variable), 0)}) as a graph initializer, which {@code Session} runs
 *       before the first run; here that first run is the one initialising the parameters, so the
 *       initialiser would read a variable that has no value yet ("Attempting to use uninitialized
 *       value"). The step initialises, restores and resets state explicitly instead.</li>
 *   <li>Slot timing and placement: slots are created inside {@code applyGradients}, after the
 *       forward and backward pass, when every new name scope costs a scan of the whole graph, and
 *       from the optimizer's own {@code Ops.create(graph)}, without the step's device scope.</li>
 *   <li>{@code computeGradients} differentiates w.r.t. every {@code VariableV2} of the graph, which
 *       fails once the graph holds a global step or EMA averages (only {@code applyGradients}
 *       would be usable).</li>
 * </ul>
 */
public final class SgdAgcOptimizer {
  public static final String MOMENTUM_SCOPE = "optimizer/momentum";

  private final OptimizerConfig config;
  private final AdaptiveGradientClipping agc;
  private final Map<String, Variable<TFloat32>> slots = new LinkedHashMap<>();

  /**
   * Creates the momentum slot of every parameter in {@code trainable} (call it early, while the
   * graph is small: see {@link TrainState#variable}).
   *
   * @param fusedNorms AGC unit norms with {@code EuclideanNorm} (false under XLA, see
   *     {@link AdaptiveGradientClipping#withFusedNorms})
   */
  public SgdAgcOptimizer(OptimizerConfig config, boolean fusedNorms, TrainState state,
      List<ParameterSpec> trainable) {
    this.config = config;
    this.agc = new AdaptiveGradientClipping(config.clipping(), config.eps(),
        p -> config.clippedGroups().contains(config.groups().groupOf(p)))
        .withFusedNorms(fusedNorms);
    for (ParameterSpec spec : trainable) {
      slots.put(spec.haikuKey(), state.variable(MOMENTUM_SCOPE + "/" + spec.tfName(),
          spec.shape()));
    }
  }

  public OptimizerConfig config() {
    return config;
  }

  /**
   * One update.
   *
   * @param op runs every parameter's update (after every read of the old values)
   * @param newValues each parameter's value after the update (read through its update op), by
   *     Haiku key
   * @param clippedGradients each gradient after AGC (before weight decay), by Haiku key
   * @param clipFractions fraction of units clipped, per clipped group
   * @param clipFraction fraction of units clipped over all clipped groups
   */
  public record Update(Op op, Map<String, Operand<TFloat32>> newValues,
      Map<String, Operand<TFloat32>> clippedGradients,
      Map<ParameterGroup, Operand<TFloat32>> clipFractions, Operand<TFloat32> clipFraction) {}

  /**
   * Builds the update of {@code params} (each with a slot) from their gradients.
   *
   * @param tf root ops (device scope included)
   * @param grads gradient of the loss w.r.t. each parameter's read, same order as {@code params}
   * @param lr learning rate, float32 scalar
   */
  public Update apply(Ops tf, List<VariableParameters.Entry> params,
      List<Operand<TFloat32>> grads, Operand<TFloat32> lr) {
    // One flat scope for all update ops (see TrainState#variable on why not one per parameter).
    Ops s = tf.withSubScope("optimizer");
    List<ParameterSpec> specs = params.stream().map(VariableParameters.Entry::spec).toList();
    List<Operand<TFloat32>> values = params.stream().map(VariableParameters.Entry::read).toList();
    AdaptiveGradientClipping.Result clipped = agc.apply(s, specs, grads, values);
    float wd = (float) config.weightDecay();
    List<Operand<TFloat32>> finals = new ArrayList<>();
    Map<String, Operand<TFloat32>> clippedByKey = new LinkedHashMap<>();
    for (int i = 0; i < params.size(); i++) {
      Operand<TFloat32> g = clipped.grads().get(i);
      clippedByKey.put(specs.get(i).haikuKey(), g);
      if (config.decayedGroups().contains(config.groups().groupOf(specs.get(i))) && wd != 0f) {
        g = s.math.add(g, s.math.mul(values.get(i), s.constant(wd)));
      }
      finals.add(g);
    }
    Ops m = tf.withSubScope("metrics");
    Map<ParameterGroup, Operand<TFloat32>> fractions = clipFractions(m, specs, clipped.stats());
    Operand<TFloat32> overall = overallFraction(m, specs, clipped.stats());

    // A VariableV2 read aliases the variable's buffer: every update waits for every final gradient,
    // which depends on the whole forward and backward pass and on every read of the old values,
    // and for the learning rate (the update's constants then join the schedule and the gradients
    // into one XLA cluster instead of two).
    List<Op> barrier = new ArrayList<>();
    finals.forEach(g -> barrier.add(g::op));
    fractions.values().forEach(f -> barrier.add(f::op));
    barrier.add(overall::op);
    barrier.add(lr::op);
    Ops applyScope = tf.withSubScope("optimizer_apply");
    Ops after = applyScope.withControlDependencies(barrier);
    Operand<TFloat32> mu = after.constant((float) config.momentum());
    List<Op> updates = new ArrayList<>();
    Map<String, Operand<TFloat32>> newValues = new LinkedHashMap<>();
    for (int i = 0; i < params.size(); i++) {
      String key = specs.get(i).haikuKey();
      ApplyMomentum<TFloat32> step = after.train.applyMomentum(params.get(i).variable(),
          slot(key), lr, finals.get(i), mu, ApplyMomentum.useNesterov(config.nesterov()));
      updates.add(step);
      // ApplyMomentum's output is the variable's ref; an Identity of it is the new value.
      newValues.put(key, after.identity(step.out()));
    }
    Op op = applyScope.withControlDependencies(updates).withName("update").noOp();
    return new Update(op, newValues, clippedByKey, fractions, overall);
  }

  /** Zeroes every momentum buffer (a fresh optimizer). */
  public List<Op> reset(Ops tf) {
    List<Op> ops = new ArrayList<>();
    // Zeros from the static shape: zerosLike(read) would read the uninitialised slot.
    slots.forEach((key, buf) -> ops.add(tf.assign(buf,
        tf.zeros(tf.constant(buf.shape().asArray()), TFloat32.class))));
    return ops;
  }

  private Variable<TFloat32> slot(String key) {
    Variable<TFloat32> v = slots.get(key);
    if (v == null) {
      throw new IllegalArgumentException("no momentum slot for " + key
          + " (not among the trainable parameters this optimizer was created for)");
    }
    return v;
  }

  private Map<ParameterGroup, Operand<TFloat32>> clipFractions(Ops m, List<ParameterSpec> specs,
      List<AdaptiveGradientClipping.Clipped> stats) {
    Map<ParameterGroup, List<Operand<TFloat32>>> counts = new EnumMap<>(ParameterGroup.class);
    Map<ParameterGroup, Long> units = new EnumMap<>(ParameterGroup.class);
    for (int i = 0; i < specs.size(); i++) {
      if (stats.get(i) != null) {
        ParameterGroup g = config.groups().groupOf(specs.get(i));
        counts.computeIfAbsent(g, k -> new ArrayList<>()).add(stats.get(i).clippedUnits());
        units.merge(g, stats.get(i).units(), Long::sum);
      }
    }
    Map<ParameterGroup, Operand<TFloat32>> fractions = new EnumMap<>(ParameterGroup.class);
    counts.forEach((g, c) -> fractions.put(g, m.withName("clip_fraction_" + g.tag())
        .math.div(m.math.addN(c), m.constant((float) (long) units.get(g)))));
    return fractions;
  }

  private static Operand<TFloat32> overallFraction(Ops m, List<ParameterSpec> specs,
      List<AdaptiveGradientClipping.Clipped> stats) {
    List<Operand<TFloat32>> counts = new ArrayList<>();
    long units = 0;
    for (AdaptiveGradientClipping.Clipped c : stats) {
      if (c != null) {
        counts.add(c.clippedUnits());
        units += c.units();
      }
    }
    return counts.isEmpty() ? m.withName("clip_fraction").constant(0f)
        : m.withName("clip_fraction").math.div(m.math.addN(counts), m.constant((float) units));
  }
}
