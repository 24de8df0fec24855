package org.nfnet.training;

import java.util.HashSet;
import java.util.Set;
import java.util.function.Predicate;
import org.nfnet.zoo.BlockSpec;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterNames;
import org.nfnet.zoo.ParameterSpec;

/**
 * Fine-tuning start point: parameters from a {@link ParameterSource} (the CLI reads and validates a
 * DeepMind release file with the converters), optionally a new classifier for the target classes (initialised N(0, 0.01) as the zoo's
 * CLASSIFIER_NORMAL, i.e. DeepMind's fc_init), optionally a frozen stem and first stages.
 *
 * @param weights the start values (e.g. a release file's parameters)
 * @param replaceHead do not load the classifier ({@code NFNet/~/linear}); it starts from N(0,0.01)
 * @param freezeStages -1: nothing frozen; 0: the stem; k > 0: the stem and stages 0..k-1
 */
public record FineTuning(ParameterSource weights, boolean replaceHead, int freezeStages) {

  /** Parameters excluded from the update. */
  public Predicate<ParameterSpec> frozen(NFNetConfig config) {
    if (freezeStages < 0) {
      return p -> false;
    }
    Set<String> modules = new HashSet<>();
    for (BlockSpec b : NFNetStructure.blocks(config)) {
      if (b.stage() < freezeStages) {
        modules.add(b.module());
      }
    }
    String stem = ParameterNames.module(ParameterNames.ROOT, NFNetStructure.STEM_PREFIX);
    return p -> p.module().startsWith(stem)
        || modules.stream().anyMatch(m -> p.module().equals(m)
            || p.module().startsWith(m + ParameterNames.HAIKU_SEPARATOR));
  }

  /** Whether {@code spec} is loaded from the weights file (everything but a replaced head). */
  public boolean loads(ParameterSpec spec) {
    return !(replaceHead && spec.module().equals(NFNetStructure.classifierModule()));
  }
}
