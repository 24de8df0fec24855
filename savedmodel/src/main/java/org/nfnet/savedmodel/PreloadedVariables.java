package org.nfnet.savedmodel;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * <p>The network must request exactly the preloaded parameters: an unknown or misshapen request
 * fails while the graph is built, and {@link #checkAllRequested()} catches unused ones.
 */
final class PreloadedVariables extends ExportWeights {
  private record Slot(ParameterSpec spec, Variable<TFloat32> variable, Placeholder<TFloat32> value,
      Op assign) {}

  private final Map<String, Slot> slots = new LinkedHashMap<>();

  /**
   * Adds a variable and its loader per spec to {@code g}, which must not hold any of these names.
   *
   * @param folded whether the specs are those of a folded graph (see {@link FoldedKernels})
   */
  PreloadedVariables(Graph g, List<ParameterSpec> specs, boolean folded) {
    super(specs, folded);
    // A root scope of our own, not the graph's shared base scope (Ops.create(g)): taking the
    // sub-scope "NFNet" there would make the network built later land in "NFNet_1".
    Scope root = new OpScope(g);
    Map<String, Scope> scopes = new HashMap<>();
    for (ParameterSpec spec : specs) {
      String name = spec.tfName();
      Scope module = scopeOf(root, scopes, name.substring(0, name.lastIndexOf('/')));
      String leaf = spec.name();
      Variable<TFloat32> v = Variable.create(module.withName(leaf), Shape.of(spec.shape()), TFloat32.class);
      if (!v.op().name().equals(name)) {
        throw new IllegalStateException("variable for " + spec.haikuKey() + " was named "
            + v.op().name() + ", expected " + name);
      }
      Placeholder<TFloat32> p = Placeholder.create(module.withName(leaf + "_value"), TFloat32.class,
          Placeholder.shape(Shape.of(spec.shape())));
      Op assign = Assign.create(module.withName(leaf + "_load"), v, p);
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

  /** The variable's read for the network: {@code <module>/<name>_read}. */
  @Override
  Operand<TFloat32> create(Ops module, ParameterSpec spec) {
    return module.withName(spec.name() + "_read").identity(slots.get(spec.haikuKey()).variable());
  }
}
