package org.nfnet.training;

import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ParameterInit;
import org.nfnet.zoo.graph.ParameterSource;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * bfloat16 mode with float32 master weights: the forward sees every parameter (and the input)
 * rounded to bfloat16, while variables, gradients, optimizer state and EMA stay float32 (the
 * Cast's gradient passes the float32 gradient straight to the master weight).
 *
 * <p>Limitation: the zoo's graph builder is float32-typed, so the convolutions themselves still
 * compute in float32 on the bf16-rounded values; this reproduces bf16's weight/input precision
 * but not its speed. Real bf16 kernels need a dtype-generic builder in the zoo.
 */
final class Bf16Parameters implements ParameterSource {
  private final ParameterSource master;

  Bf16Parameters(ParameterSource master) {
    this.master = master;
  }

  @Override
  public Operand<TFloat32> get(Ops module, ParameterSpec spec, ParameterInit init) {
    return round(module, master.get(module, spec, init));
  }

  static Operand<TFloat32> round(Ops tf, Operand<TFloat32> x) {
    return tf.dtypes.cast(tf.dtypes.cast(x, TBfloat16.class), TFloat32.class);
  }
}
