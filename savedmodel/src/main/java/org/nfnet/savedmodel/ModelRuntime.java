package org.nfnet.savedmodel;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.SessionFunction;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.MetaGraphDef;

/**
 * The graph, session and signature functions an {@link NFNetModel} runs: the loaded SavedModel's,
 * or the in-memory frozen copy of a variables export ({@link LoadTimeFreezing}), in which case the
 * loaded bundle is closed (its variables freed) and only its meta graph is kept.
 */
final class ModelRuntime implements AutoCloseable {
  private final SavedModelBundle bundle;
  private final MetaGraphDef metaGraph;
  private final LoadTimeFreezing.Outcome frozen; // null unless frozen at load
  private final Map<String, SessionFunction> functions;
  private final String weights;

  private ModelRuntime(SavedModelBundle bundle, LoadTimeFreezing.Outcome frozen, String weights) {
    this.bundle = bundle;
    this.metaGraph = bundle.metaGraphDef();
    this.frozen = frozen;
    this.weights = weights;
    Map<String, SessionFunction> fns = new LinkedHashMap<>();
    if (frozen != null) {
      fns.putAll(frozen.functions());
    } else {
      bundle.functions().forEach(f -> fns.put(f.signature().key(), f));
    }
    this.functions = Collections.unmodifiableMap(fns);
  }

  /**
   * Loads {@code dir} (tag {@code serve}) and, when {@code freeze} and the model card says the
   * weights are variables, freezes it. A model that cannot be frozen runs as stored.
   */
  static ModelRuntime open(Path dir, Map<String, Object> card, ConfigProto config, boolean freeze)
      throws IOException {
    SavedModelBundle.Loader loader = SavedModelBundle.loader(dir.toString()).withTags(NFNetExporter.TAG);
    if (config != null) {
      loader.withConfigProto(config);
    }
    SavedModelBundle b;
    try {
      b = loader.load();
    } catch (org.tensorflow.exceptions.TensorFlowException e) {
      throw SavedModelFiles.diagnose(dir, e);
    }
    String stored = String.valueOf(card.getOrDefault("weights", "variables"));
    if (stored.startsWith("graph constants")) {
      return new ModelRuntime(b, null, "constants (frozen export)");
    }
    if (!freeze) {
      return new ModelRuntime(b, null, "variables (freezing at load not requested)");
    }
    LoadTimeFreezing.Outcome f;
    try {
      f = LoadTimeFreezing.freeze(b, config);
    } catch (RuntimeException e) { // an unexpected graph: run it as stored
      f = new LoadTimeFreezing.Outcome(null, null, Map.of(), "freezing failed: " + e);
    } catch (Error e) {
      b.close();
      throw e;
    }
    if (!f.frozen()) {
      return new ModelRuntime(b, null, "variables (not frozen: " + f.reason() + ")");
    }
    ModelRuntime r = new ModelRuntime(b, f, "constants (frozen at load)");
    b.close(); // frees the variables: the frozen graph holds the weights now
    return r;
  }

  boolean frozenAtLoad() {
    return frozen != null;
  }

  String weights() {
    return weights;
  }

  Graph graph() {
    return frozenAtLoad() ? frozen.graph() : bundle.graph();
  }

  Session session() {
    return frozenAtLoad() ? frozen.session() : bundle.session();
  }

  Map<String, SessionFunction> functions() {
    return functions;
  }

  MetaGraphDef metaGraphDef() {
    return metaGraph;
  }

  @Override
  public void close() {
    if (frozenAtLoad()) {
      frozen.session().close();
      frozen.graph().close();
    } else {
      bundle.close();
    }
  }
}
