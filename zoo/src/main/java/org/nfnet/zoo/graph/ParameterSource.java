package org.nfnet.zoo.graph;

import java.util.Optional;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * Supplies the tensor the forward graph uses for each parameter.
 *
 * <p>The architecture does not decide whether weights are graph variables (training, export),
 * constants (small parity checks) or anything else: {@link NFNet} asks its source once per
 * parameter, in the order of {@link org.nfnet.zoo.NFNetStructure#parameters}.
 */
public interface ParameterSource {
  /**
   * @param module ops scoped to the parameter's module (e.g. {@code NFNet/nf_block_3/conv1})
   * @param spec the Haiku identity and shape
   * @param init how a new parameter should be initialised, for sources that create them
   * @return a float32 tensor of exactly {@code spec.shape()}
   */
  Operand<TFloat32> get(Ops module, ParameterSpec spec, ParameterInit init);

  /**
   * Whether this source serves pre-standardized convolution kernels: then every WSConv2D asks for
   * {@link WSConv2D#FOLDED_KERNEL} (the kernel with weight standardization and gain already
   * applied, same shape as {@code w}) and {@code bias}, instead of {@code w}, {@code gain} and
   * {@code bias}. Used by serving exports, which fold the weight-only standardization offline.
   */
  default boolean foldedKernels() {
    return false;
  }

  /**
   * The bfloat16 tensor this source stores for {@code spec}, when it stores that parameter in
   * bfloat16 (the convolution kernels and biases of bf16 serving exports): the float32 tensor
   * {@link #get} returned for it is then that tensor's exact cast, and a bf16 convolution reads
   * this one instead of casting back on every call. Asked after {@link #get}.
   */
  default Optional<Operand<TBfloat16>> bf16(ParameterSpec spec) {
    return Optional.empty();
  }
}
