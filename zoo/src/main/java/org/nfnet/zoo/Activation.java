package org.nfnet.zoo;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The nonlinearities NFNets may use, each with DeepMind's "gamma" constant baked in.
 *
 * <p>Gamma rescales the activation so that a unit-Gaussian input keeps unit variance at the
 * output; without it the signal-propagation argument behind normalizer-free networks (and the
 * block's {@code beta}) no longer holds. The constants are those of DeepMind's {@code base.py}
 * (computed there empirically). GELU is the tanh approximation, as {@code jax.nn.gelu} computes
 * it by default: the exact-erf GELU moves logits by ~3e-4 of their range.
 */
public enum Activation {
  GELU(1.7015043497085571),
  RELU(1.7139588594436646),
  SILU(1.7881293296813965),
  ELU(1.2716004848480225),
  TANH(1.5939117670059204),
  SIGMOID(4.803835391998291),
  IDENTITY(1.0);

  private final double gamma;

  Activation(double gamma) {
    this.gamma = gamma;
  }

  /** The variance-preserving constant the raw nonlinearity is multiplied by. */
  public double gamma() {
    return gamma;
  }

  /** Parses DeepMind's lower-case names ("gelu", "relu", ...). */
  public static Activation parse(String name) {
    try {
      return valueOf(name.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "unknown activation '" + name + "'; valid: "
              + Arrays.stream(values()).map(a -> a.name().toLowerCase(Locale.ROOT))
                  .collect(Collectors.joining(", ")));
    }
  }

  public String key() {
    return name().toLowerCase(Locale.ROOT);
  }
}
