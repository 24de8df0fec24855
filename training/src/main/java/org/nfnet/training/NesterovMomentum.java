package org.nfnet.training;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * SGD momentum as in DeepMind's (PyTorch-style) optimizer, dampening 0:
 * {@code buf <- mu * buf + g}; the update direction is {@code g + mu * buf} with Nesterov, else
 * {@code buf}. A fresh buffer is zero, so the first Nesterov step moves by {@code (1 + mu) g}.
 */
public final class NesterovMomentum {
  private NesterovMomentum() {}

  /** The new buffer value. */
  public static Operand<TFloat32> buffer(Ops tf, Operand<TFloat32> buf, Operand<TFloat32> grad,
      float momentum) {
    return tf.math.add(tf.math.mul(tf.constant(momentum), buf), grad);
  }

  /** The direction to step along (to be multiplied by the learning rate and subtracted). */
  public static Operand<TFloat32> direction(Ops tf, Operand<TFloat32> newBuf, Operand<TFloat32> grad,
      float momentum, boolean nesterov) {
    return nesterov ? tf.math.add(grad, tf.math.mul(tf.constant(momentum), newBuf)) : newBuf;
  }
}
