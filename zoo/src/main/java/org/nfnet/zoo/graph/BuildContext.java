package org.nfnet.zoo.graph;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/** What every layer needs while one forward graph is being built. */
final class BuildContext {
  final Ops tf;
  final NFNetConfig config;
  final ForwardOptions options;
  final Precision precision;
  private final ParameterSource params;
  private final ModuleScopes scopes;
  /** Every parameter requested, in order: lets tests check it against NFNetStructure. */
  final List<ParameterSpec> requested = new ArrayList<>();

  BuildContext(Ops tf, NFNetConfig config, ParameterSource params, ForwardOptions options,
      Precision precision) {
    this.tf = tf;
    this.precision = precision;
    this.config = config;
    this.params = params;
    this.options = options;
    this.scopes = new ModuleScopes(tf);
  }

  private Map<String, Float> kernelInputScales;

  /** {@link org.nfnet.zoo.NFNetStructure#kernelInputScales} of this config, computed once. */
  Map<String, Float> kernelInputScales() {
    if (kernelInputScales == null) {
      kernelInputScales = org.nfnet.zoo.NFNetStructure.kernelInputScales(config);
    }
    return kernelInputScales;
  }

  /** bf16 tensors whose float32 cast the graph also holds: the cast back is skipped. */
  private final Map<Output<?>, Operand<TBfloat16>> bf16Sources = new HashMap<>();

  /** Records that {@code fp32} is exactly {@code cast(bf16)}. */
  void rememberBf16(Operand<TFloat32> fp32, Operand<TBfloat16> bf16) {
    bf16Sources.put(fp32.asOutput(), bf16);
  }

  /**
   * {@code x} in bf16 for a bf16 convolution: the bf16 tensor {@code x} was cast from, when there
   * is one (bf16 -> float32 -> bf16 is the identity), else a cast.
   */
  Operand<TBfloat16> bf16(Ops tf, Operand<TFloat32> x) {
    Operand<TBfloat16> source = bf16Sources.get(x.asOutput());
    return source != null ? source : tf.dtypes.cast(x, TBfloat16.class);
  }

  boolean foldedKernels() {
    return params.foldedKernels();
  }

  Ops scope(String haikuModule) {
    return scopes.of(haikuModule);
  }

  Operand<TFloat32> param(String module, String name, long[] shape, ParameterInit init) {
    ParameterSpec spec = new ParameterSpec(module, name, shape);
    requested.add(spec);
    Operand<TFloat32> value = params.get(scope(module), spec, init);
    params.bf16(spec).ifPresent(stored -> rememberBf16(value, stored));
    return value;
  }
}
