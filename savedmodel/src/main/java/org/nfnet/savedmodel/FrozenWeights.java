package org.nfnet.savedmodel;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * Export parameters as graph constants ("frozen" SavedModel, no checkpoint variables).
 *
 * <p>Why: TF's oneDNN convolution caches its reordered filter only when the filter input is a
 * {@code Const} ({@code is_filter_const}), unless the process runs with oneDNN's weight cache
 * ({@code TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1}, which {@code nfnet logits}/{@code predict}/
 * {@code serve} set). Without it, a variables export re-lays-out all of F0's 71.5M weights on
 * every call, and a frozen one is measurably faster (BENCHMARKS.md, {@code ./nfnet bench
 * --sections infer}). A bf16 export's convolution kernels and biases are bfloat16 constants, as
 * they are bfloat16 variables in a variables export ({@link PreloadedVariables}).
 *
 * <p>Costs: the weights live in the GraphDef, which protobuf limits to 2 GB (float32: F0..F5 fit;
 * bf16: up to F6; the exporter refuses larger models), and export briefly holds the serialized
 * graph on the Java heap, so the memory-lean variable export stays the default. Values are
 * requested one parameter at a time, in the network's order, and each host tensor is closed once
 * TF has copied it into the graph.
 */
final class FrozenWeights extends ExportWeights {
  /**
   * Largest weight payload a frozen export accepts: float32 F5 (1.51 GB) fits, float32 F6 (1.75
   * GB) is refused. Protobuf caps a GraphDef at 2 GB, and TF Java's exporter also materializes the
   * serialized graph on the Java heap, so F6 in float32 would be too close to both limits.
   */
  static final long MAX_BYTES = 1_600L * 1024 * 1024;

  private final Function<ParameterSpec, TFloat32> values;
  private final Set<String> bf16;
  private final Bfloat16Rounding rounding;

  /**
   * @param specs the parameters the network will request (folded specs for a folded export)
   * @param values parameter -> tensor of its shape; each is closed here after it became a constant
   * @param bf16 Haiku keys of the parameters stored in bfloat16
   * @param rounding how they are rounded (null when {@code bf16} is empty)
   */
  FrozenWeights(List<ParameterSpec> specs, Function<ParameterSpec, TFloat32> values, boolean folded,
      Set<String> bf16, Bfloat16Rounding rounding) {
    super(specs, folded);
    long bytes = specs.stream().mapToLong(s -> s.size() * (bf16.contains(s.haikuKey()) ? 2 : 4))
        .sum();
    if (bytes > MAX_BYTES) {
      throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
          "a frozen export holds the weights in the GraphDef, which protobuf caps at 2 GB; this"
              + " model has %.2f GB of weights: export with variables instead", bytes / 1e9));
    }
    this.values = values;
    this.bf16 = bf16;
    this.rounding = rounding;
  }

  /**
   * A constant named like the variable of a non-frozen export ({@code NFNet/<module>/<name>}); a
   * bfloat16 one is returned through {@link ExportWeights#storedInBf16}.
   */
  @Override
  Operand<TFloat32> create(Ops module, ParameterSpec spec) {
    try (TFloat32 t = values.apply(spec)) {
      if (!Arrays.equals(t.shape().asArray(), spec.shape())) {
        throw new IllegalArgumentException("value for " + spec.haikuKey() + " has shape "
            + t.shape() + ", expected " + spec.shapeString());
      }
      if (!bf16.contains(spec.haikuKey())) {
        return module.withName(spec.name()).constantOf(t);
      }
      try (TBfloat16 rounded = rounding.round(t)) {
        return storedInBf16(module, spec, module.withName(spec.name()).constantOf(rounded));
      }
    }
  }
}
