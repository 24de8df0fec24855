package org.nfnet.training;

import java.util.function.Function;
import org.nfnet.zoo.ParameterSpec;

/**
 * Assigns each parameter to a {@link ParameterGroup}.
 *
 * <p>{@link #deepMind()} reproduces the partition of DeepMind's {@code experiment_nfnets.py}:
 * first everything whose name is {@code scale}, {@code offset} or {@code b}, or contains
 * {@code gain} or {@code bias} (so {@code skip_gain} too) is a gain/bias; of the rest, parameters
 * of a module containing {@code linear} but not {@code squeeze_excite} (the classifier) form the
 * classifier group; everything else is a weight. Other partitions can be plugged in with
 * {@link #of}.
 */
public final class ParameterGroups {
  private final Function<ParameterSpec, ParameterGroup> rule;

  private ParameterGroups(Function<ParameterSpec, ParameterGroup> rule) {
    this.rule = rule;
  }

  public static ParameterGroups of(Function<ParameterSpec, ParameterGroup> rule) {
    return new ParameterGroups(rule);
  }

  public static ParameterGroups deepMind() {
    return new ParameterGroups(ParameterGroups::deepMindGroup);
  }

  public ParameterGroup groupOf(ParameterSpec spec) {
    return rule.apply(spec);
  }

  static ParameterGroup deepMindGroup(ParameterSpec spec) {
    String name = spec.name();
    if (name.equals("scale") || name.equals("offset") || name.equals("b")
        || name.contains("gain") || name.contains("bias")) {
      return ParameterGroup.GAINS_BIASES;
    }
    String module = spec.module();
    if (module.contains("linear") && !module.contains("squeeze_excite")) {
      return ParameterGroup.CLASSIFIER;
    }
    return ParameterGroup.WEIGHTS;
  }
}
