package org.nfnet.savedmodel;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ParameterInit;
import org.nfnet.zoo.graph.ParameterSource;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * Where an export graph's parameters live: {@link PreloadedVariables} (checkpoint variables, the
 * default) or {@link FrozenWeights} (graph constants). This base class keeps the bookkeeping both
 * share: the network must request exactly the given parameters, each once, with the given shape
 * (an unknown or misshapen request fails while the graph is built, {@link #checkAllRequested}
 * catches unused ones). The exporter builds the network twice (plain and {@code encoded/}); the
 * second copy reads the first copy's tensors through {@link #read}.
 */
abstract class ExportWeights implements ParameterSource {
  private final Map<String, ParameterSpec> expected = new LinkedHashMap<>();
  private final Map<String, Operand<TFloat32>> requested = new LinkedHashMap<>();
  private final Map<String, Operand<TBfloat16>> storedBf16 = new HashMap<>();
  private final boolean folded;

  /**
   * @param specs the parameters the network will request (folded specs for a folded export)
   * @param folded whether the specs are those of a folded graph (see {@link FoldedKernels})
   */
  ExportWeights(List<ParameterSpec> specs, boolean folded) {
    for (ParameterSpec s : specs) {
      if (expected.put(s.haikuKey(), s) != null) {
        throw new IllegalArgumentException("parameter " + s.haikuKey() + " listed twice");
      }
    }
    this.folded = folded;
  }

  /** The tensor the network reads for {@code spec}, created in {@code module}'s scope. */
  abstract Operand<TFloat32> create(Ops module, ParameterSpec spec);

  @Override
  public final Operand<TFloat32> get(Ops module, ParameterSpec spec, ParameterInit init) {
    ParameterSpec s = expected.get(spec.haikuKey());
    if (s == null || !s.equals(spec)) {
      throw new IllegalStateException("the network requests " + spec + ", but the export has "
          + (s == null ? "no such parameter" : s.toString()));
    }
    if (requested.containsKey(spec.haikuKey())) {
      throw new IllegalStateException("parameter " + spec.haikuKey() + " requested twice");
    }
    Operand<TFloat32> t = create(module, spec);
    requested.put(spec.haikuKey(), t);
    return t;
  }

  /**
   * What {@link #create} returns for a parameter stored in bfloat16: its float32 cast
   * {@code <name>_float32}, which bf16 convolutions skip for {@code stored} itself (see
   * {@link ParameterSource#bf16}).
   */
  final Operand<TFloat32> storedInBf16(Ops module, ParameterSpec spec, Operand<TBfloat16> stored) {
    storedBf16.put(spec.haikuKey(), stored);
    return module.withName(spec.name() + "_float32").dtypes.cast(stored, TFloat32.class);
  }

  @Override
  public final Optional<Operand<TBfloat16>> bf16(ParameterSpec spec) {
    return Optional.ofNullable(storedBf16.get(spec.haikuKey()));
  }

  /** The tensor the first network copy got for this parameter. */
  final Operand<TFloat32> read(String haikuKey) {
    Operand<TFloat32> t = requested.get(haikuKey);
    if (t == null) {
      throw new IllegalStateException("parameter " + haikuKey + " was not requested by the network");
    }
    return t;
  }

  @Override
  public final boolean foldedKernels() {
    return folded;
  }

  /** Fails unless the network used every parameter the export was given. */
  final void checkAllRequested() {
    for (String key : expected.keySet()) {
      if (!requested.containsKey(key)) {
        throw new IllegalStateException("parameter " + key + " was given to the export but the network does not use it");
      }
    }
  }

  /** Number of stored float values. */
  final long storedValues() {
    return expected.values().stream().mapToLong(ParameterSpec::size).sum();
  }
}
