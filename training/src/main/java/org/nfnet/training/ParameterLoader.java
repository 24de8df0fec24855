package org.nfnet.training;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ResourceParameters;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * Assigns host values to the parameters (fine-tuning from a release file or an export). The
 * placeholder + assign pairs are created with the graph: adding ops after the first run (as the
 * zoo's per-parameter loader does) makes every later run re-prepare the whole graph.
 */
final class ParameterLoader {
  /** Host values per run: few distinct run signatures, bounded memory. */
  private static final long BYTES_PER_RUN = 256L << 20;

  private final ResourceParameters params;
  private final Map<String, Placeholder<TFloat32>> values = new LinkedHashMap<>();
  private final Map<String, Op> assigns = new LinkedHashMap<>();

  ParameterLoader(Ops tf, ResourceParameters params) {
    this.params = params;
    for (ResourceParameters.Entry en : params.entries()) {
      var ph = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(en.spec().shape())));
      values.put(en.spec().haikuKey(), ph);
      assigns.put(en.spec().haikuKey(), en.variable().assign(tf, ph));
    }
  }

  /**
   * @param only Haiku keys to load, or null for all
   */
  void load(Session session, Function<ParameterSpec, TFloat32> source, Set<String> only) {
    List<TFloat32> open = new ArrayList<>();
    var runner = session.runner();
    long bytes = 0;
    try {
      for (ResourceParameters.Entry en : params.entries()) {
        String key = en.spec().haikuKey();
        if (only != null && !only.contains(key)) {
          continue;
        }
        TFloat32 t = source.apply(en.spec());
        open.add(t);
        if (!t.shape().equals(Shape.of(en.spec().shape()))) {
          throw new IllegalArgumentException("value for " + key + " has shape " + t.shape()
              + ", expected " + en.spec().shapeString());
        }
        runner.feed(values.get(key), t).addTarget(assigns.get(key));
        bytes += 4 * en.spec().size();
        if (bytes > BYTES_PER_RUN) {
          runner.run();
          open.forEach(TFloat32::close);
          open.clear();
          runner = session.runner();
          bytes = 0;
        }
      }
      if (!open.isEmpty()) {
        runner.run();
      }
    } finally {
      open.forEach(TFloat32::close);
    }
  }
}
