package org.nfnet.savedmodel;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.OpScope;
import org.tensorflow.op.Ops;
import org.tensorflow.op.Scope;
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.dtypes.Cast;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * The export graph's parameters as {@code VariableV2} variables that are created and filled from
 * host values <em>before</em> the network is built on top of them, one parameter per
 * {@code Session.run}.
 *
 * <p>Why this order: peak memory of an export should be the variables (1x the weights) plus one
 * parameter in flight. Loading one parameter per run after the network is built costs a new TF
 * executor per run, and each one prunes and optimizes the whole graph (two network copies), which
 * is why the zoo's {@code VariableParameters.load} feeds 64 MB per run, i.e. holds 64 MB of host
 * tensors on top of the variables they are copied into. While the graph holds only the variables
 * and their loaders, a run is cheap (with the exporter's Grappler-free session; BENCHMARKS.md,
 * "Conversion"), so the export can stream
 * parameter by parameter: request a value, run its assign, close the value, next.
 *
 * <p>The network built afterwards reads the variables through the same {@code <name>_read}
 * identities, so the exported graph and checkpoint are the same as with {@code VariableParameters}
 * (variables named {@link ParameterSpec#tfName()}, loaders {@code <name>_value} and
 * {@code <name>_load}; checked node by node and byte for byte on T0 and F0).
 *
 * <p>Parameters listed as bfloat16 (the convolution kernels and biases of a bf16 export, see
 * {@link FoldedKernels#bf16Parameters}) are {@code DT_BFLOAT16} variables, rounded from the
 * float32 values by TF's own {@code Cast} as they are loaded: the same values the bf16 graph used
 * to cast on every call, in half the bytes and with no cast left at serving time.
 *
 * <p>The network must request exactly the preloaded parameters: an unknown or misshapen request
 * fails while the graph is built, and {@link #checkAllRequested()} catches unused ones.
 */
final class PreloadedVariables extends ExportWeights {
  private record Slot(ParameterSpec spec, Variable<?> variable, Placeholder<TFloat32> value,
      Op assign) {}

  private final Map<String, Slot> slots = new LinkedHashMap<>();

  /**
   * Adds a variable and its loader per spec to {@code g}, which must not hold any of these names.
   *
   * @param folded whether the specs are those of a folded graph (see {@link FoldedKernels})
   * @param bf16 Haiku keys of the parameters stored in bfloat16
   */
  PreloadedVariables(Graph g, List<ParameterSpec> specs, boolean folded, Set<String> bf16) {
    super(specs, folded);
    // A root scope of our own, not the graph's shared base scope (Ops.create(g)): taking the
    // sub-scope "NFNet" there would make the network built later land in "NFNet_1".
    Scope root = new OpScope(g);
    Map<String, Scope> scopes = new HashMap<>();
    for (ParameterSpec spec : specs) {
      String name = spec.tfName();
      Scope module = scopeOf(root, scopes, name.substring(0, name.lastIndexOf('/')));
      String leaf = spec.name();
      Placeholder<TFloat32> p = Placeholder.create(module.withName(leaf + "_value"), TFloat32.class,
          Placeholder.shape(Shape.of(spec.shape())));
      Variable<?> v;
      Op assign;
      if (bf16.contains(spec.haikuKey())) {
        Variable<TBfloat16> v16 = Variable.create(module.withName(leaf), Shape.of(spec.shape()),
            TBfloat16.class);
        assign = Assign.create(module.withName(leaf + "_load"), v16,
            Cast.create(module.withName(leaf + "_rounded"), p, TBfloat16.class));
        v = v16;
      } else {
        Variable<TFloat32> v32 = Variable.create(module.withName(leaf), Shape.of(spec.shape()),
            TFloat32.class);
        assign = Assign.create(module.withName(leaf + "_load"), v32, p);
        v = v32;
      }
      if (!v.op().name().equals(name)) {
        throw new IllegalStateException("variable for " + spec.haikuKey() + " was named "
            + v.op().name() + ", expected " + name);
      }
      if (slots.put(spec.haikuKey(), new Slot(spec, v, p, assign)) != null) {
        throw new IllegalArgumentException("parameter " + spec.haikuKey() + " listed twice");
      }
    }
  }

  /** The scope for a slash-separated path, each level created once (TF uniquifies repeats). */
  private static Scope scopeOf(Scope root, Map<String, Scope> cache, String path) {
    Scope s = cache.get(path);
    if (s == null) {
      int cut = path.lastIndexOf('/');
      Scope parent = cut < 0 ? root : scopeOf(root, cache, path.substring(0, cut));
      s = parent.withSubScope(path.substring(cut + 1));
      cache.put(path, s);
    }
    return s;
  }

  /**
   * Assigns every variable its value, one parameter at a time: {@code values} is asked for the
   * next parameter only after the previous tensor was assigned and closed.
   *
   * @param values parameter -> tensor of its shape; each is closed here after its run
   */
  void load(Session session, Function<ParameterSpec, TFloat32> values) {
    for (Slot s : slots.values()) {
      try (TFloat32 t = values.apply(s.spec())) {
        if (!Arrays.equals(t.shape().asArray(), s.spec().shape())) {
          throw new IllegalArgumentException("value for " + s.spec().haikuKey() + " has shape "
              + t.shape() + ", expected " + s.spec().shapeString());
        }
        session.runner().feed(s.value(), t).addTarget(s.assign()).run();
      }
    }
  }

  /**
   * The variable's read for the network: {@code <module>/<name>_read}; for a bfloat16 variable,
   * the read through {@link ExportWeights#storedInBf16}.
   */
  @Override
  @SuppressWarnings("unchecked")
  Operand<TFloat32> create(Ops module, ParameterSpec spec) {
    Variable<?> v = slots.get(spec.haikuKey()).variable();
    if (v.type() == TBfloat16.class) {
      return storedInBf16(module, spec,
          module.withName(spec.name() + "_read").identity((Variable<TBfloat16>) v));
    }
    return module.withName(spec.name() + "_read").identity((Variable<TFloat32>) v);
  }
}
