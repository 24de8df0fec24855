package org.nfnet.zoo.graph;

import java.util.ArrayList;
import java.util.List;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
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

  private java.util.Map<String, Float> kernelInputScales;

  /** {@link org.nfnet.zoo.NFNetStructure#kernelInputScales} of this config, computed once. */
  java.util.Map<String, Float> kernelInputScales() {
    if (kernelInputScales == null) {
      kernelInputScales = org.nfnet.zoo.NFNetStructure.kernelInputScales(config);
    }
    return kernelInputScales;
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
    return params.get(scope(module), spec, init);
  }
}
