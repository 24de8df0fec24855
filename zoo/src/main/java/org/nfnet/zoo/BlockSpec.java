package org.nfnet.zoo;

/**
 * The static layout of one NFBlock, derived from an {@link NFNetConfig} exactly as DeepMind's
 * {@code NFNet.__init__} derives it.
 *
 * @param index overall block index (0-based); the Haiku module is {@code nf_block[_index]}
 * @param stage stage 0..3
 * @param inChannels input channels
 * @param outChannels output channels
 * @param width bottleneck width, rounded down to a multiple of the group width
 * @param groupWidth channels per group of the 3x3 convolutions
 * @param expansion bottleneck ratio
 * @param bigWidth whether the bottleneck is computed from the output (true) or input channels
 * @param stride 2 for the first block of stages 1..3, else 1
 * @param beta the pre-activation multiplier 1 / expected_std of the block's input
 * @param stochDepthRate drop probability of the residual branch in training
 * @param seHidden hidden units of the squeeze-excite MLP
 */
public record BlockSpec(
    int index,
    int stage,
    int inChannels,
    int outChannels,
    int width,
    int groupWidth,
    double expansion,
    boolean bigWidth,
    int stride,
    double beta,
    double stochDepthRate,
    int seHidden) {

  /** Number of groups of the 3x3 convolutions. */
  public int groups() {
    return width / groupWidth;
  }

  /** A 1x1 (after avg-pool when strided) shortcut projection exists on downsampling or width change. */
  public boolean useProjection() {
    return stride > 1 || inChannels != outChannels;
  }

  /** Haiku module path of this block, e.g. {@code NFNet/~/nf_block_3}. */
  public String module() {
    return ParameterNames.module(ParameterNames.ROOT, ParameterNames.numbered("nf_block", index));
  }
}
