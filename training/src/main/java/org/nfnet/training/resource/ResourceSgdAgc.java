package org.nfnet.training.resource;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.nfnet.training.AdaptiveGradientClipping;
import org.nfnet.training.OptimizerConfig;
import org.nfnet.training.ParameterGroup;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ResourceParameters;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * SGD + AGC + weight decay + (Nesterov) momentum on resource variables, DeepMind's
 * {@code SGD_AGC} order per parameter: AGC clip of the raw gradient (clipped groups), then
 * {@code g += weight_decay * W} (decayed groups), then momentum:
 * {@code buf <- buf * mu + g}, {@code W <- W - (g * lr + buf * mu * lr)} (Nesterov) or
 * {@code W <- W - buf * lr}, the arithmetic of TF's {@code ApplyMomentum} kernel, written with
 * {@code AssignVariableOp}.
 *
 * <p>Why not a fused {@code ResourceApplyMomentum}: the EMA needs each parameter's new value, and
 * TF's XLA clustering never places a resource read that depends on a write of the same cluster
 * into that cluster (XLA reads resources on entry and writes them on exit), so reading the
 * updated variable splits the step in two clusters. Computing the new value as a tensor keeps
 * one cluster, where XLA fuses these element-wise ops into one loop anyway; without XLA it costs
 * a few more memory passes than the fused kernel. (Keras' {@code ResourceApplyKerasMomentum}
 * keeps a learning-rate-scaled velocity, equal to optax's {@code trace} only at a constant rate.)
 * No ordering barrier is needed: an assignment to a resource variable never changes a tensor a
 * pending {@code ReadVariableOp} already returned.
 */
public final class ResourceSgdAgc {
  private final OptimizerConfig config;
  private final boolean fusedNorms;

  /**
   * @param fusedNorms AGC norms by TF's one-pass {@code EuclideanNorm} (no XLA kernel) or by
   *     square-then-sum (what an XLA-compiled step needs)
   */
  public ResourceSgdAgc(OptimizerConfig config, boolean fusedNorms) {
    this.config = config;
    this.fusedNorms = fusedNorms;
  }

  /**
   * The update ops and AGC statistics of one step.
   *
   * @param assigns the assignments of every trainable parameter and momentum buffer
   * @param newValues each trainable parameter's value after this step, by Haiku key
   * @param clipFractions fraction of units clipped, per clipped group
   * @param clipFraction fraction of units clipped over all clipped groups
   */
  public record Update(List<Op> assigns, Map<String, Operand<TFloat32>> newValues,
      Map<ParameterGroup, Operand<TFloat32>> clipFractions,
      Operand<TFloat32> clipFraction) {}

  /**
   * Builds the update. {@code params.get(i)} gets gradient {@code grads.get(i)}, taken w.r.t. its
   * {@link ResourceParameters.Entry#read()}; {@code slots} holds each one's momentum buffer.
   */
  public Update apply(Ops tf, List<ResourceParameters.Entry> params, List<Operand<TFloat32>> grads,
      Map<String, ResourceVariables.Variable<TFloat32>> slots, Operand<TFloat32> lr) {
    Ops s = tf.withSubScope("optimizer");
    float clipping = (float) config.clipping();
    float wd = (float) config.weightDecay();
    Operand<TFloat32> mu = s.constant((float) config.momentum());
    List<Op> assigns = new ArrayList<>();
    Map<String, Operand<TFloat32>> newValues = new java.util.LinkedHashMap<>();
    Map<ParameterGroup, List<Operand<TFloat32>>> counts = new EnumMap<>(ParameterGroup.class);
    Map<ParameterGroup, Long> units = new EnumMap<>(ParameterGroup.class);
    for (int i = 0; i < params.size(); i++) {
      ResourceParameters.Entry e = params.get(i);
      ParameterSpec spec = e.spec();
      ParameterGroup group = config.groups().groupOf(spec);
      Operand<TFloat32> g = grads.get(i);
      if (config.clippedGroups().contains(group) && clipping > 0) {
        AdaptiveGradientClipping.Clipped c = AdaptiveGradientClipping.clip(s, g, e.read(),
            spec.shape(), clipping, (float) config.eps(), fusedNorms);
        g = c.grad();
        counts.computeIfAbsent(group, k -> new ArrayList<>()).add(c.clippedUnits());
        units.merge(group, c.units(), Long::sum);
      }
      if (config.decayedGroups().contains(group) && wd != 0f) {
        g = s.math.add(g, s.math.mul(e.read(), s.constant(wd)));
      }
      ResourceVariables.Variable<TFloat32> buf = slots.get(spec.haikuKey());
      if (buf == null) {
        throw new IllegalArgumentException("no momentum slot for " + spec.haikuKey());
      }
      Operand<TFloat32> newBuf = s.math.add(s.math.mul(buf.read(s), mu), g);
      Operand<TFloat32> step = config.nesterov()
          ? s.math.add(s.math.mul(g, lr), s.math.mul(s.math.mul(newBuf, mu), lr))
          : s.math.mul(newBuf, lr);
      Operand<TFloat32> w = s.math.sub(e.read(), step);
      assigns.add(buf.assign(s, newBuf));
      assigns.add(e.variable().assign(s, w));
      newValues.put(spec.haikuKey(), w);
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
    return new Update(assigns, newValues, fractions, overall);
  }
}
