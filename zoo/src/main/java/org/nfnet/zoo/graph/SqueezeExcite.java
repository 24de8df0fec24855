package org.nfnet.zoo.graph;

import org.nfnet.zoo.ParameterNames;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * Squeeze-and-excite: spatial mean -> linear -> plain ReLU -> linear -> sigmoid, giving a
 * per-channel gate of shape [N, 1, 1, C]. The ReLU here is NOT gamma-scaled (DeepMind's SE uses
 * {@code jax.nn.relu} directly).
 */
final class SqueezeExcite {
  private SqueezeExcite() {}

  static Operand<TFloat32> gate(BuildContext ctx, String blockModule, Operand<TFloat32> x,
      int channels, int hidden) {
    String module = ParameterNames.module(blockModule, "squeeze_excite");
    Ops tf = ctx.scope(module);
    Operand<TFloat32> h = tf.math.mean(x, tf.constant(new int[] {1, 2}));
    h = Linear.apply(ctx, ParameterNames.module(module, "linear"), h, channels, hidden,
        ParameterInit.LINEAR_FAN_IN);
    h = tf.nn.relu(h);
    h = Linear.apply(ctx, ParameterNames.module(module, "linear_1"), h, hidden, channels,
        ParameterInit.LINEAR_FAN_IN);
    h = tf.math.sigmoid(h);
    return tf.reshape(h, tf.constant(new int[] {-1, 1, 1, channels}));
  }
}
