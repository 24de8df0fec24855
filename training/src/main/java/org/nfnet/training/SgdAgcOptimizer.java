package org.nfnet.training;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.nfnet.zoo.graph.NameScopes;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.VariableParameters;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.train.ApplyMomentum;
import org.tensorflow.types.TFloat32;

/**
 * SGD with Adaptive Gradient Clipping, weight decay and (Nesterov) momentum, built as graph ops
 * (DeepMind's {@code SGD_AGC}), per parameter in this order:
 * <ol>
 *   <li>AGC clip (groups in {@link OptimizerConfig#clippedGroups()}), on the raw gradient;</li>
 *   <li>{@code g += weight_decay * W} (groups in {@link OptimizerConfig#decayedGroups()}) &mdash;
 *       after clipping, so decay is never clipped away;</li>
 *   <li>momentum buffer and Nesterov direction;</li>
 *   <li>{@code W <- W - lr * direction}, {@code lr} a graph tensor (the schedule).</li>
 * </ol>
 *
 * <p>Why not TF Java's {@code Momentum}/{@code Optimizer}: its learning rate is a float constant,
 * and {@code computeGradients} differentiates w.r.t. every VariableV2 in the graph, which fails as
 * soon as the graph holds a global step or EMA variables. Here gradients are taken w.r.t. the
 * parameters' Identity reads by the caller ({@code Graph.addGradients}).
 *
 * <p>Momentum slots are plain VariableV2 variables named
 * {@code optimizer/momentum/<parameter variable name>}, so {@code Session.save} checkpoints them.
 * Building is two-phase: {@link #build} computes every parameter's final gradient (clipped, with
 * weight decay) as a tensor; {@link Plan#apply} then updates momentum buffer and parameter in place
 * with TF's fused {@code ApplyMomentum} (Nesterov or heavy-ball), behind a caller-chosen barrier:
 * every read of an old value must be finished first, since a VariableV2 read aliases the
 * variable's buffer. Why fused: the update is memory-bound (F0 has 71.5M parameters); one kernel
 * reading gradient, buffer and parameter once replaces six full-size element-wise passes and two
 * copies (BENCHMARKS.md, "Where the time goes").
 */
public final class SgdAgcOptimizer {
  public static final String MOMENTUM_SCOPE = "optimizer/momentum";

  private final OptimizerConfig config;
  private final boolean fusedNorms;

  public SgdAgcOptimizer(OptimizerConfig config) {
    this(config, true);
  }

  private SgdAgcOptimizer(OptimizerConfig config, boolean fusedNorms) {
    this.config = config;
    this.fusedNorms = fusedNorms;
  }

  /**
   * The same optimizer with AGC's unit norms from TF's one-pass {@code EuclideanNorm} (the
   * default) or from square-then-sum, which XLA can compile.
   */
  public SgdAgcOptimizer withFusedNorms(boolean fused) {
    return new SgdAgcOptimizer(config, fused);
  }

  public OptimizerConfig config() {
    return config;
  }

  /**
   * Everything computed for one parameter in one step before the update: the raw gradient, the
   * gradient after AGC, and {@code update}, the gradient handed to the momentum step (clipped,
   * plus weight decay).
   */
  public record ParamUpdate(VariableParameters.Entry entry, ParameterGroup group,
      Operand<TFloat32> grad, Operand<TFloat32> clippedGrad, Operand<TFloat32> update,
      Variable<TFloat32> momentum, Operand<TFloat32> clippedUnits, long units) {

    public ParameterSpec spec() {
      return entry.spec();
    }
  }

  /**
   * The applied update: the ops that write parameters and buffers, and each parameter's new value
   * (read through its update op, so it is only computed after the write), by Haiku key.
   */
  public record Applied(List<Op> ops, Map<String, Operand<TFloat32>> newValues) {}

  /** The update tensors of one step, not yet applied. */
  public final class Plan {
    private final List<ParamUpdate> updates;
    private final Map<ParameterGroup, Operand<TFloat32>> clipFractions;
    private final Operand<TFloat32> clipFraction;
    private final List<Op> momentumReset;
    private final Operand<TFloat32> lr;

    Plan(List<ParamUpdate> updates, Map<ParameterGroup, Operand<TFloat32>> clipFractions,
        Operand<TFloat32> clipFraction, List<Op> momentumReset, Operand<TFloat32> lr) {
      this.updates = updates;
      this.clipFractions = clipFractions;
      this.clipFraction = clipFraction;
      this.momentumReset = momentumReset;
      this.lr = lr;
    }

    public List<ParamUpdate> updates() {
      return updates;
    }

    /** Fraction of units clipped this step, per clipped group. */
    public Map<ParameterGroup, Operand<TFloat32>> clipFractions() {
      return clipFractions;
    }

    /** Fraction of units clipped this step over all clipped groups. */
    public Operand<TFloat32> clipFraction() {
      return clipFraction;
    }

    /** Ops zeroing every momentum buffer (fresh optimizer state). */
    public List<Op> momentumReset() {
      return momentumReset;
    }

    /**
     * Every final gradient, for use in the barrier: together they depend on the whole forward and
     * backward pass and on every read of the parameters' old values.
     */
    public List<Op> updateOps() {
      List<Op> ops = new ArrayList<>();
      for (ParamUpdate u : updates) {
        ops.add(u.update()::op);
      }
      return ops;
    }

    /**
     * Updates buffers and parameters in place, each after every op in {@code barrier}:
     * {@code buf <- mu * buf + g}, then {@code W <- W - lr * (g + mu * buf)} (Nesterov) or
     * {@code W <- W - lr * buf}.
     */
    public Applied apply(Ops tf, List<Op> barrier) {
      Ops after = tf.withSubScope("optimizer_apply").withControlDependencies(barrier);
      Operand<TFloat32> mu = after.constant((float) config.momentum());
      List<Op> ops = new ArrayList<>();
      Map<String, Operand<TFloat32>> values = new java.util.LinkedHashMap<>();
      for (ParamUpdate u : updates) {
        ApplyMomentum<TFloat32> step = after.train.applyMomentum(u.entry().variable(),
            u.momentum(), lr, u.update(), mu, ApplyMomentum.useNesterov(config.nesterov()));
        ops.add(step);
        // ApplyMomentum's output is the variable's ref; an Identity of it is the new value.
        values.put(u.spec().haikuKey(), after.identity(step.out()));
      }
      return new Applied(ops, values);
    }
  }

  /**
   * Creates the momentum slot of every parameter in {@code specs}. Call this early, while the
   * graph is small: TF Java re-scans the whole graph for each new name scope, so creating the
   * ~100 nested slot scopes after the forward and backward pass dominates graph build time.
   */
  public static Map<String, Variable<TFloat32>> createSlots(NameScopes scopes, List<ParameterSpec> specs) {
    Map<String, Variable<TFloat32>> slots = new java.util.LinkedHashMap<>();
    for (ParameterSpec spec : specs) {
      slots.put(spec.haikuKey(), scopes.named(MOMENTUM_SCOPE + "/" + spec.tfName())
          .variable(Shape.of(spec.shape()), TFloat32.class));
    }
    return slots;
  }

  /**
   * Builds the update tensors.
   *
   * @param tf root ops (device scope included)
   * @param params trainable parameters
   * @param grads gradient of the loss w.r.t. each parameter's read, same order
   * @param lr learning rate tensor (float32 scalar)
   */
  public Plan build(Ops tf, Map<String, Variable<TFloat32>> slots,
      List<VariableParameters.Entry> params, List<Operand<TFloat32>> grads, Operand<TFloat32> lr) {
    // One flat scope for all update ops (see createSlots on why not one scope per parameter).
    Ops s = tf.withSubScope("optimizer");
    float clipping = (float) config.clipping();
    float eps = (float) config.eps();
    float wd = (float) config.weightDecay();
    List<ParamUpdate> updates = new ArrayList<>();
    Map<ParameterGroup, List<Operand<TFloat32>>> counts = new EnumMap<>(ParameterGroup.class);
    Map<ParameterGroup, Long> units = new EnumMap<>(ParameterGroup.class);
    List<Op> reset = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      VariableParameters.Entry e = params.get(i);
      ParameterSpec spec = e.spec();
      ParameterGroup group = config.groups().groupOf(spec);
      Operand<TFloat32> p = e.read();
      Operand<TFloat32> g = grads.get(i);
      Operand<TFloat32> clippedUnits = null;
      long n = 0;
      if (config.clippedGroups().contains(group) && clipping > 0) {
        AdaptiveGradientClipping.Clipped c =
            AdaptiveGradientClipping.clip(s, g, p, spec.shape(), clipping, eps, fusedNorms);
        g = c.grad();
        clippedUnits = c.clippedUnits();
        n = c.units();
        counts.computeIfAbsent(group, k -> new ArrayList<>()).add(clippedUnits);
        units.merge(group, n, Long::sum);
      }
      Operand<TFloat32> clipped = g;
      if (config.decayedGroups().contains(group) && wd != 0f) {
        g = s.math.add(g, s.math.mul(p, s.constant(wd)));
      }
      Variable<TFloat32> buf = slots.get(spec.haikuKey());
      // Zeros from the static shape: zerosLike(read) would read the uninitialised slot.
      reset.add(s.assign(buf, s.zeros(s.constant(spec.shape()), TFloat32.class)));
      updates.add(new ParamUpdate(e, group, grads.get(i), clipped, g, buf, clippedUnits, n));
    }
    Ops m = tf.withSubScope("metrics");
    Map<ParameterGroup, Operand<TFloat32>> fractions = new EnumMap<>(ParameterGroup.class);
    List<Operand<TFloat32>> all = new ArrayList<>();
    long total = 0;
    for (var en : counts.entrySet()) {
      Operand<TFloat32> sum = m.math.addN(en.getValue());
      all.add(sum);
      long u = units.get(en.getKey());
      total += u;
      fractions.put(en.getKey(), m.math.div(sum, m.constant((float) u)));
    }
    Operand<TFloat32> overall = all.isEmpty() ? m.constant(0f)
        : m.math.div(m.math.addN(all), m.constant((float) total));
    return new Plan(updates, fractions, overall, reset, lr);
  }
}
