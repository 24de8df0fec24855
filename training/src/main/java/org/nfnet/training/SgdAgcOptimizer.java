package org.nfnet.training;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ResourceParameters;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.train.ResourceApplyMomentum;
import org.tensorflow.types.TFloat32;

/**
 * SGD with Adaptive Gradient Clipping, weight decay and (Nesterov) momentum, DeepMind's
 * {@code SGD_AGC}, per parameter in this order:
 * <ol>
 *   <li>AGC clip ({@link AdaptiveGradientClipping}, groups in
 *       {@link OptimizerConfig#clippedGroups()}), on the raw gradient;</li>
 *   <li>{@code g += weight_decay * W} (groups in {@link OptimizerConfig#decayedGroups()}) &mdash;
 *       after clipping, so decay is never clipped away;</li>
 *   <li>{@code buf <- buf * mu + g}, then {@code W <- W - (g * lr + buf * mu * lr)} (Nesterov) or
 *       {@code W <- W - buf * lr}.</li>
 * </ol>
 *
 * <p>Two forms of the same update. Without XLA, TF's fused {@code ResourceApplyMomentum} (one
 * kernel reads gradient, buffer and parameter once: the update is memory-bound), and each new
 * value is a read of the parameter after its update. Under XLA, the kernel's arithmetic as
 * tensors written with {@code AssignVariableOp}: the EMA needs each new value, and TF's XLA
 * clustering never places a resource read that depends on a write of the same cluster into that
 * cluster (XLA reads resources on entry and writes them on exit), so reading the updated variable
 * would split the step in two; as tensors, XLA fuses the element-wise ops into one loop. No
 * ordering barrier is needed in either form: an update of a resource variable never changes a
 * tensor a {@code ReadVariableOp} already returned (TF copies a buffer still in use first).
 *
 * <p>Shaped like TF Java's framework optimizers: the optimizer owns its slots (one momentum buffer
 * per trainable parameter, {@code optimizer/momentum/<parameter variable name>}, created with the
 * optimizer through {@link TrainState#variable}), and has one entry point, {@link #apply}
 * (gradients, parameters and a learning-rate operand in, the update out).
 *
 * <p>Why it does not extend {@code org.tensorflow.framework.optimizers.Optimizer} (1.1.0, read from
 * its source):
 * <ul>
 *   <li>Slots: {@code Optimizer.createSlot} always creates a {@code VariableV2}
 *       ({@code tf.variable}) named {@code <variable>-<slot>}: slots could not be resource
 *       variables, and the names would orphan the {@code optimizer/momentum/...} entries of every
 *       existing checkpoint. {@code applyDense} also takes a {@code Variable} (ref) to update.</li>
 *   <li>Slot initialisation: {@code createSlot} registers its initialiser as a graph initializer,
 *       which {@code Session} runs before the first run, and a restored slot would be reset. The
 *       step initialises, restores and resets state explicitly instead.</li>
 *   <li>Slot timing and placement: slots are created inside {@code applyGradients}, after the
 *       forward and backward pass, when every new name scope costs a scan of the whole graph, and
 *       from the optimizer's own {@code Ops.create(graph)}, without the step's device scope.</li>
 *   <li>{@code computeGradients} differentiates w.r.t. {@code VariableV2}s only.</li>
 * </ul>
 */
public final class SgdAgcOptimizer {
  public static final String MOMENTUM_SCOPE = "optimizer/momentum";

  private final OptimizerConfig config;
  private final AdaptiveGradientClipping agc;
  private final boolean fused;
  private final Map<String, ResourceVariables.Variable<TFloat32>> slots = new LinkedHashMap<>();

  /**
   * Creates the momentum slot of every parameter in {@code trainable} (call it early, while the
   * graph is small: see {@link TrainState#variable}).
   *
   * @param fused TF's fused kernels: AGC unit norms with {@code EuclideanNorm} (see
   *     {@link AdaptiveGradientClipping#withFusedNorms}) and {@code ResourceApplyMomentum}; false
   *     under XLA
   */
  public SgdAgcOptimizer(OptimizerConfig config, boolean fused, TrainState state,
      List<ParameterSpec> trainable) {
    this.config = config;
    this.fused = fused;
    this.agc = new AdaptiveGradientClipping(config.clipping(), config.eps(),
        p -> config.clippedGroups().contains(config.groups().groupOf(p)))
        .withFusedNorms(fused);
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
   * @param assigns the assignments of every updated parameter and momentum buffer
   * @param newValues each parameter's value after the update, by Haiku key
   * @param clippedGradients each gradient after AGC (before weight decay), by Haiku key
   * @param clipFractions fraction of units clipped, per clipped group
   * @param clipFraction fraction of units clipped over all clipped groups
   */
  public record Update(List<Op> assigns, Map<String, Operand<TFloat32>> newValues,
      Map<String, Operand<TFloat32>> clippedGradients,
      Map<ParameterGroup, Operand<TFloat32>> clipFractions, Operand<TFloat32> clipFraction) {}

  /**
   * Builds the update of {@code params} (each with a slot) from their gradients.
   *
   * @param tf root ops (device scope included)
   * @param grads gradient of the loss w.r.t. each parameter's read, same order as {@code params}
   * @param lr learning rate, float32 scalar
   */
  public Update apply(Ops tf, List<ResourceParameters.Entry> params,
      List<Operand<TFloat32>> grads, Operand<TFloat32> lr) {
    // One flat scope for all update ops (TF Java scans the graph for every new scope).
    Ops s = tf.withSubScope("optimizer");
    List<ParameterSpec> specs = params.stream().map(ResourceParameters.Entry::spec).toList();
    List<Operand<TFloat32>> values = params.stream().map(ResourceParameters.Entry::read).toList();
    AdaptiveGradientClipping.Result clipped = agc.apply(s, specs, grads, values);
    float wd = (float) config.weightDecay();
    Operand<TFloat32> mu = s.constant((float) config.momentum());
    List<Op> assigns = new ArrayList<>();
    Map<String, Operand<TFloat32>> newValues = new LinkedHashMap<>();
    Map<String, Operand<TFloat32>> clippedByKey = new LinkedHashMap<>();
    for (int i = 0; i < params.size(); i++) {
      String key = specs.get(i).haikuKey();
      Operand<TFloat32> g = clipped.grads().get(i);
      clippedByKey.put(key, g);
      if (config.decayedGroups().contains(config.groups().groupOf(specs.get(i))) && wd != 0f) {
        // wd * w waits for the gradient: it depends on the parameter only, so TF would
        // otherwise compute every parameter's term at the start of the step and hold them all
        // (the size of the weights) through the forward and backward passes.
        Ops afterGrad = s.withControlDependencies(List.of(g));
        g = s.math.add(g, afterGrad.math.mul(values.get(i), s.constant(wd)));
      }
      ResourceVariables.Variable<TFloat32> buf = slot(key);
      ResourceVariables.Variable<TFloat32> var = params.get(i).variable();
      if (fused) {
        Op apply = s.train.resourceApplyMomentum(var.handle(), buf.handle(), lr, g, mu,
            ResourceApplyMomentum.useNesterov(config.nesterov()));
        assigns.add(apply);
        newValues.put(key, var.read(s.withControlDependencies(List.of(apply))));
      } else {
        Operand<TFloat32> newBuf = s.math.add(s.math.mul(buf.read(s), mu), g);
        Operand<TFloat32> step = config.nesterov()
            ? s.math.add(s.math.mul(g, lr), s.math.mul(s.math.mul(newBuf, mu), lr))
            : s.math.mul(newBuf, lr);
        Operand<TFloat32> w = s.math.sub(values.get(i), step);
        assigns.add(buf.assign(s, newBuf));
        assigns.add(var.assign(s, w));
        newValues.put(key, w);
      }
    }
    Ops m = tf.withSubScope("metrics");
    return new Update(assigns, newValues, clippedByKey, clipFractions(m, specs, clipped.stats()),
        overallFraction(m, specs, clipped.stats()));
  }

  /** Zeroes every momentum buffer (a fresh optimizer). */
  public List<Op> reset() {
    return slots.values().stream().map(ResourceVariables.Variable::initializer).toList();
  }

  private ResourceVariables.Variable<TFloat32> slot(String key) {
    ResourceVariables.Variable<TFloat32> v = slots.get(key);
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
