package org.nfnet.zoo.graph;

import java.util.Objects;
import org.tensorflow.Operand;
import org.tensorflow.types.TInt64;

/**
 * Inference or training behaviour of the forward graph.
 *
 * <p>Training enables stochastic depth (per-example residual-branch dropping, rate growing with
 * block depth, no rescaling, as DeepMind) and dropout before the classifier. Randomness comes
 * from stateless random ops keyed by {@code seed} (an int64 [2] tensor, typically derived from
 * the global step in-graph): no host round-trip, reproducible, and XLA-compilable.
 *
 * @param training whether to apply stochastic depth and dropout
 * @param seed int64 [2] seed tensor; required when training
 * @param stochasticDepth apply stochastic depth in training (ignored otherwise)
 * @param dropout apply dropout in training (ignored otherwise)
 * @param fusedStandardization standardize kernels through {@link FusedWeightStandardization}
 *     (CPU training fast path) instead of element-wise ops; ignored for folded kernels
 * @param differentiated the graph will be differentiated (a training step, even one with an
 *     eval-mode forward). Otherwise activations that follow a matrix product are built in the op
 *     pattern TF's remapper fuses into that product ({@link Activations#geluTanhFusible}), which
 *     pays off only when nothing else reads the intermediate values, as gradients do.
 * @param hashMasks draw the masks from an integer hash of (seed, element) instead of TF's
 *     Philox kernel: identical with and without XLA and compiled into an XLA cluster (XLA's
 *     random ops differ from TF's kernels; see {@link StochasticDepth})
 */
public record ForwardOptions(boolean training, Operand<TInt64> seed, boolean stochasticDepth,
    boolean dropout, boolean fusedStandardization, boolean differentiated, boolean hashMasks) {

  public ForwardOptions {
    if (training && (stochasticDepth || dropout)) {
      Objects.requireNonNull(seed, "training with stochastic depth or dropout needs a seed tensor");
    }
  }

  /** Eval-mode forward: no stochastic depth, no dropout (what DeepMind's is_training=False does). */
  public static ForwardOptions inference() {
    return new ForwardOptions(false, null, false, false, false, false, false);
  }

  /** Training-mode forward with both regularisers. */
  public static ForwardOptions training(Operand<TInt64> seed) {
    return new ForwardOptions(true, seed, true, true, false, true, false);
  }

  /** The same options with kernels standardized by the fused CPU path or not. */
  public ForwardOptions withFusedStandardization(boolean fused) {
    return new ForwardOptions(training, seed, stochasticDepth, dropout, fused, differentiated,
        hashMasks);
  }

  /** The same options for a graph that will (or will not) be differentiated. */
  public ForwardOptions differentiated(boolean d) {
    return new ForwardOptions(training, seed, stochasticDepth, dropout, fusedStandardization, d,
        hashMasks);
  }

  /** The same options with hashed (XLA-portable) or Philox masks. */
  public ForwardOptions withHashMasks(boolean hash) {
    return new ForwardOptions(training, seed, stochasticDepth, dropout, fusedStandardization,
        differentiated, hash);
  }

  boolean useStochasticDepth() {
    return training && stochasticDepth;
  }

  boolean useDropout() {
    return training && dropout;
  }
}
