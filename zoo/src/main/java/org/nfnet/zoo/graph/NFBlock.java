package org.nfnet.zoo.graph;

import java.util.List;
import org.nfnet.zoo.Activation;
import org.nfnet.zoo.BlockSpec;
import org.nfnet.zoo.ParameterNames;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * The NFNet bottleneck block (paper Fig. 3):
 * <pre>
 *   h = act(x) * beta                    (gamma and beta folded into the consuming kernels)
 *   shortcut = x                         (same shape)
 *            | conv_shortcut(h)          (width change)
 *            | conv_shortcut(avgpool(h)) (stride 2: 2x2 SAME average pool first)
 *   r = conv0 1x1 -> act -> conv1 3x3 grouped (strided) -> act -> conv1b 3x3 grouped -> act -> conv2 1x1
 *   r = 2 * se(r) * r
 *   r = stochastic_depth(r)              (training only)
 *   out = r * skip_gain * alpha + shortcut
 * </pre>
 * The four scalings of r are multiplied together first and applied to r once.
 */
final class NFBlock {
  private NFBlock() {}

  static Operand<TFloat32> apply(BuildContext ctx, BlockSpec b, Operand<TFloat32> x) {
    String m = b.module();
    Ops tf = ctx.scope(m);
    // Activations are built without their constant factor (gamma, and beta here): each
    // consuming conv folds it into its kernel (NFNetStructure.kernelInputScales).
    Activation act = ctx.config.activation();
    boolean diff = ctx.options.differentiated();
    Operand<TFloat32> h = Activations.unscaled(tf, act, x, diff);

    Operand<TFloat32> shortcut = x;
    if (b.useProjection()) {
      Operand<TFloat32> in = h;
      if (b.stride() > 1) {
        List<Long> window = List.of(1L, (long) b.stride(), (long) b.stride(), 1L);
        // TF's SAME average pool divides by the count of in-bounds elements, as hk.avg_pool does;
        // it is linear, so the folded factor still applies after it.
        in = tf.nn.avgPool(h, window, window, "SAME");
      }
      shortcut = WSConv2D.apply(ctx, ParameterNames.module(m, "conv_shortcut"), in, 1,
          b.inChannels(), b.outChannels(), 1);
    }

    Operand<TFloat32> out = WSConv2D.applyActivated(ctx, ParameterNames.module(m, "conv0"), h, 1,
        b.inChannels(), b.width(), 1, act);
    out = WSConv2D.apply(ctx, ParameterNames.module(m, "conv1"), out, 3, b.groupWidth(),
        b.width(), b.stride());
    out = WSConv2D.apply(ctx, ParameterNames.module(m, "conv1b"),
        Activations.unscaled(tf, act, out, diff), 3, b.groupWidth(), b.width(), 1);
    out = WSConv2D.apply(ctx, ParameterNames.module(m, "conv2"),
        Activations.unscaled(tf, act, out, diff), 1, b.width(), b.outChannels(), 1);

    // The branch is scaled by 2 * se_gate, the stochastic-depth mask, skip_gain and alpha. All of
    // them are per example and channel at most, so they are multiplied together on the small
    // [N, 1, 1, C] tensor and the full feature map sees a single multiply (forward and backward:
    // each full-size multiply saved is two to three memory-bound passes per block per step).
    Operand<TFloat32> gate = SqueezeExcite.gate(ctx, m, out, b.outChannels(), b.seHidden());
    Operand<TFloat32> skipGain = ctx.param(m, "skip_gain", new long[0], ParameterInit.ZEROS);
    Operand<TFloat32> scale = tf.math.mul(gate,
        tf.math.mul(skipGain, tf.constant((float) (2.0 * ctx.config.alpha()))));
    if (ctx.options.useStochasticDepth() && b.stochDepthRate() > 0 && b.stochDepthRate() < 1) {
      scale = StochasticDepth.apply(tf, scale, b.stochDepthRate(),
          StochasticDepth.subSeed(tf, ctx.options.seed(), b.index() + 1L),
          ctx.options.hashMasks());
    }
    out = tf.math.mul(out, scale);
    return tf.math.add(out, shortcut);
  }
}
