package org.nfnet.training;

/**
 * The three optimizer parameter groups of DeepMind's NFNet experiment ({@code _make_opt}).
 *
 * <p>AGC bounds each unit's update relative to its weight norm; that makes sense for kernels and
 * also (with the eps floor) for zero-initialised gains/biases, but the paper found clipping the
 * final linear layer hurts, so the classifier weight is left unclipped. Weight decay is a
 * regulariser on the scale of kernels only; decaying gains and biases would fight the signal
 * propagation the NF design relies on.
 */
public enum ParameterGroup {
  /** Convolution kernels and squeeze-excite linear weights: clipped and decayed. */
  WEIGHTS("weights"),
  /** Gains, biases, {@code b}, {@code skip_gain}: clipped, not decayed. */
  GAINS_BIASES("gains_biases"),
  /** The classifier weight (NFNet/~/linear/w): decayed, not clipped. */
  CLASSIFIER("classifier");

  private final String tag;

  ParameterGroup(String tag) {
    this.tag = tag;
  }

  /** Short name used in metric and TensorBoard tags. */
  public String tag() {
    return tag;
  }
}
