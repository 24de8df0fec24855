package org.nfnet.zoo.graph;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * Parameters held in TF variables named after their Haiku identity (see
 * {@link org.nfnet.zoo.ParameterNames}), e.g. variable {@code NFNet/nf_block_3/conv1/w}.
 *
 * <p>They are classic {@code VariableV2} variables because TF Java's {@code Session.save} and
 * SavedModel exporter save exactly those. The forward graph reads each one through an
 * {@code Identity} ({@link Entry#read()}): gradients are taken with respect to that read, and
 * math ops never consume the ref-typed variable output directly (which crashed TF Java on some
 * kernels). Nothing is registered as a TF Java auto-initializer, so a restored or loaded model is
 * never silently re-initialised: callers run {@link #initializer} or {@link #load} explicitly.
 */
public final class VariableParameters implements ParameterSource {
  /** One parameter: Haiku identity, initializer kind, the variable and its read tensor. */
  public record Entry(ParameterSpec spec, ParameterInit init, Variable<TFloat32> variable,
      Operand<TFloat32> read, Ops scope) {}

  private final ParameterTable<Entry> entries = new ParameterTable<>();
  private final Map<String, Loader> loaders = new LinkedHashMap<>();

  private record Loader(Placeholder<TFloat32> value, Op assign) {}

  @Override
  public Operand<TFloat32> get(Ops module, ParameterSpec spec, ParameterInit init) {
    entries.checkNew(spec);
    Variable<TFloat32> v = module.withName(spec.name()).variable(Shape.of(spec.shape()), TFloat32.class);
    String actual = v.op().name();
    if (!actual.endsWith(spec.tfName())) {
      throw new IllegalStateException("variable for " + spec.haikuKey() + " was named " + actual
          + ", expected " + spec.tfName() + " (another model in the same graph scope?)");
    }
    Operand<TFloat32> read = module.withName(spec.name() + "_read").identity(v);
    entries.add(spec, new Entry(spec, init, v, read, module));
    return read;
  }

  /** All parameters in creation (forward) order. */
  public List<Entry> entries() {
    return entries.all();
  }

  public Entry entry(String haikuKey) {
    return entries.get(haikuKey);
  }

  /**
   * One op that assigns every variable its Haiku-style initial value, drawn in-graph from
   * stateless random ops keyed by {@code seed} (so initialization needs no host data).
   */
  public Op initializer(Ops tf, Operand<TInt64> seed) {
    List<Op> assigns = new ArrayList<>();
    long salt = 0;
    for (Entry e : entries.all()) {
      Operand<TFloat32> value = Initializers.value(e.scope(), e.spec(), e.init(),
          StochasticDepth.subSeed(e.scope(), seed, ++salt));
      assigns.add(e.scope().withName(e.spec().name() + "_init").assign(e.variable(), value));
    }
    return tf.withControlDependencies(assigns).withName("init_parameters").noOp();
  }

  /** Host values fed per {@link #load} run: large enough to need few runs, small enough for RAM. */
  public static final long LOAD_CHUNK_BYTES = 64L << 20;

  /**
   * Assigns values from the host. Parameters are fed in chunks of about {@link #LOAD_CHUNK_BYTES} (64 MB)
   * per {@code Session.run}: every distinct run signature makes TF build and optimise a new
   * executor (tens of ms each), so one run per parameter made loading F6 (600 arrays) slow, while
   * one run for everything would need a second full copy of the model in host memory.
   *
   * @param values haikuKey -> tensor of the parameter's shape; every tensor is closed after use
   * @param only the keys to load (e.g. all but a replaced classifier), or null for all
   */
  public void load(Session session, Function<ParameterSpec, TFloat32> values,
      java.util.Set<String> only) {
    List<Entry> chunk = new ArrayList<>();
    long bytes = 0;
    for (Entry e : entries.all()) {
      if (only != null && !only.contains(e.spec().haikuKey())) {
        continue;
      }
      chunk.add(e);
      bytes += e.spec().size() * Float.BYTES;
      if (bytes >= LOAD_CHUNK_BYTES) {
        loadChunk(session, values, chunk);
        chunk.clear();
        bytes = 0;
      }
    }
    if (!chunk.isEmpty()) {
      loadChunk(session, values, chunk);
    }
  }

  private void loadChunk(Session session, Function<ParameterSpec, TFloat32> values, List<Entry> chunk) {
    List<TFloat32> fed = new ArrayList<>(chunk.size());
    try {
      Session.Runner runner = session.runner();
      for (Entry e : chunk) {
        Loader l = loaders.computeIfAbsent(e.spec().haikuKey(), k -> {
          Ops s = e.scope();
          Placeholder<TFloat32> p = s.withName(e.spec().name() + "_value")
              .placeholder(TFloat32.class, Placeholder.shape(Shape.of(e.spec().shape())));
          return new Loader(p, s.withName(e.spec().name() + "_load").assign(e.variable(), p));
        });
        TFloat32 t = values.apply(e.spec());
        fed.add(t);
        if (!java.util.Arrays.equals(t.shape().asArray(), e.spec().shape())) {
          throw new IllegalArgumentException("value for " + e.spec().haikuKey() + " has shape "
              + t.shape() + ", expected " + e.spec().shapeString());
        }
        runner.feed(l.value(), t).addTarget(l.assign());
      }
      runner.run();
    } finally {
      fed.forEach(TFloat32::close);
    }
  }
}
