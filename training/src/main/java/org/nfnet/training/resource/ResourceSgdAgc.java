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
import org.tensorflow.op.train.ResourceApplyMomentum;
import org.tensorflow.types.TFloat32;

/**
 * SGD + AGC + weight decay + (Nesterov) momentum on resource variables, DeepMind's
 * {@code SGD_AGC} order per parameter: AGC clip of the raw gradient (clipped groups), then
 * {@code g += weight_decay * W} (decayed groups), then TF's fused {@code ResourceApplyMomentum}:
 * {@code buf <- mu * buf + g}, {@code W <- W - lr * (g + mu * buf)} (Nesterov) or
 * {@code W <- W - lr * buf}.
 *
 * <p>Why {@code ResourceApplyMomentum} and not {@code ResourceApplyKerasMomentum}: Keras keeps
 * a learning-rate-scaled velocity ({@code v <- mu * v - lr * g}), which equals optax's
 * {@code trace} only for a constant learning rate; with the warm-up/cosine schedule only the
 * un-scaled buffer reproduces DeepMind's update (and today's {@code ApplyMomentum} bit for bit).
 * Both have XLA kernels. No ordering barrier is needed: a resource update copies a buffer that a
 * pending {@code ReadVariableOp} still holds, so every read sees the value before the update.
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
   * @param applies one {@code ResourceApplyMomentum} per trainable parameter, by Haiku key
   * @param clipFractions fraction of units clipped, per clipped group
   * @param clipFraction fraction of units clipped over all clipped groups
   */
  public record Update(Map<String, Op> applies, Map<ParameterGroup, Operand<TFloat32>> clipFractions,
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
    Map<String, Op> applies = new java.util.LinkedHashMap<>();
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
      applies.put(spec.haikuKey(), s.train.resourceApplyMomentum(e.variable().handle(),
          buf.handle(), lr, g, mu, ResourceApplyMomentum.useNesterov(config.nesterov())));
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
    return new Update(applies, fractions, overall);
  }
}
