package org.nfnet.training;

import java.util.EnumSet;
import java.util.Set;

/**
 * Hyper-parameters of SGD with AGC, defaulting to DeepMind's NFNet ImageNet recipe.
 *
 * @param momentum heavy-ball coefficient (0.9)
 * @param nesterov use the Nesterov form {@code g + mu * buf} (true)
 * @param weightDecay decoupled-from-nothing L2 decay added to the (clipped) gradient (2e-5)
 * @param clipping AGC threshold lambda (0.01; the paper uses 0.01 for batch 4096, larger for
 *     smaller batches)
 * @param eps floor on the parameter norm (1e-3)
 * @param groups how parameters map onto groups
 * @param clippedGroups groups AGC applies to (all but the classifier)
 * @param decayedGroups groups weight decay applies to (all but gains/biases)
 */
public record OptimizerConfig(double momentum, boolean nesterov, double weightDecay,
    double clipping, double eps, ParameterGroups groups, Set<ParameterGroup> clippedGroups,
    Set<ParameterGroup> decayedGroups) {

  public OptimizerConfig {
    clippedGroups = Set.copyOf(clippedGroups);
    decayedGroups = Set.copyOf(decayedGroups);
  }

  public static OptimizerConfig deepMind() {
    return new OptimizerConfig(0.9, true, 2e-5, 0.01, 1e-3, ParameterGroups.deepMind(),
        EnumSet.of(ParameterGroup.WEIGHTS, ParameterGroup.GAINS_BIASES),
        EnumSet.of(ParameterGroup.WEIGHTS, ParameterGroup.CLASSIFIER));
  }

  public OptimizerConfig withClipping(double c) {
    return new OptimizerConfig(momentum, nesterov, weightDecay, c, eps, groups, clippedGroups,
        decayedGroups);
  }

  public OptimizerConfig withWeightDecay(double wd) {
    return new OptimizerConfig(momentum, nesterov, wd, clipping, eps, groups, clippedGroups,
        decayedGroups);
  }
}
