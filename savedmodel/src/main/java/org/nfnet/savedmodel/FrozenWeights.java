package org.nfnet.savedmodel;

import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * Export parameters as graph constants ("frozen" SavedModel, no checkpoint variables).
 *
 * <p>Why: TF's oneDNN convolution caches its reordered filter only when the filter input is a
 * {@code Const} ({@code is_filter_const}), and Grappler constant-folds the bf16 casts of constant
 * kernels once at session creation. With variables both happen on every call: each run re-reads
 * and re-lays-out all of F0's 71.5M weights (and casts them for bf16). Frozen F0 inference is
 * measurably faster (BENCHMARKS.md, {@code ./nfnet bench --sections infer}).
 *
 * <p>Costs: the weights live in the GraphDef, which protobuf limits to 2 GB (F0..F5 fit; the
 * exporter refuses larger models), and export briefly holds the serialized graph on the Java heap,
 * so the memory-lean variable export stays the default. Values are requested one parameter at a
 * time, in the network's order, and each host tensor is closed once TF has copied it into the
 * graph.
 */
final class FrozenWeights extends ExportWeights {
  /**
   * Largest weight payload a frozen export accepts: F5 (1.51 GB) fits, F6 (1.75 GB) is refused.
   * Protobuf caps a GraphDef at 2 GB, and TF Java's exporter also materializes the serialized
   * graph on the Java heap, so F6 would be too close to both limits.
   */
  static final long MAX_BYTES = 1_600L * 1024 * 1024;

  private final Function<ParameterSpec, TFloat32> values;

  /**
   * @param specs the parameters the network will request (folded specs for a folded export)
   * @param values parameter -> tensor of its shape; each is closed here after it became a constant
   */
  FrozenWeights(List<ParameterSpec> specs, Function<ParameterSpec, TFloat32> values, boolean folded) {
    super(specs, folded);
    long bytes = 4L * storedValues();
    if (bytes > MAX_BYTES) {
      throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
          "a frozen export holds the weights in the GraphDef, which protobuf caps at 2 GB; this"
              + " model has %.2f GB of weights: export with variables instead", bytes / 1e9));
    }
    this.values = values;
  }

  /** A constant named like the variable of a non-frozen export ({@code NFNet/<module>/<name>}). */
  @Override
  Operand<TFloat32> create(Ops module, ParameterSpec spec) {
    try (TFloat32 t = values.apply(spec)) {
      if (!Arrays.equals(t.shape().asArray(), spec.shape())) {
        throw new IllegalArgumentException("value for " + spec.haikuKey() + " has shape "
            + t.shape() + ", expected " + spec.shapeString());
      }
      return module.withName(spec.name()).constantOf(t);
    }
  }
}
