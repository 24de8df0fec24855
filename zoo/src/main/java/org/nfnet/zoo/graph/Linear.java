package org.nfnet.zoo.graph;

import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/** Haiku's {@code hk.Linear}: {@code x @ w + b} with w of shape [in, out]. */
final class Linear {
  private Linear() {}

  static Operand<TFloat32> apply(BuildContext ctx, String module, Operand<TFloat32> x, int in, int out,
      ParameterInit wInit) {
    Operand<TFloat32> w = ctx.param(module, "w", new long[] {in, out}, wInit);
    Operand<TFloat32> b = ctx.param(module, "b", new long[] {out}, ParameterInit.ZEROS);
    var tf = ctx.scope(module);
    return tf.nn.biasAdd(tf.linalg.matMul(x, w), b);
  }
}
