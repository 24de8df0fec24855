package org.nfnet.zoo.graph;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.zoo.ParameterSpec;

/**
 * The parameters a {@link ParameterSource} has created, by Haiku key in creation (forward) order,
 * each created once: the bookkeeping {@link VariableParameters} and {@link ResourceParameters}
 * share.
 *
 * @param <E> what the source keeps per parameter
 */
final class ParameterTable<E> {
  private final Map<String, E> byKey = new LinkedHashMap<>();

  /** Refuses a parameter created before (one source serves one model). */
  void checkNew(ParameterSpec spec) {
    if (byKey.containsKey(spec.haikuKey())) {
      throw new IllegalStateException("parameter " + spec.haikuKey() + " requested twice");
    }
  }

  void add(ParameterSpec spec, E entry) {
    byKey.put(spec.haikuKey(), entry);
  }

  int size() {
    return byKey.size();
  }

  /** All entries in creation order. */
  List<E> all() {
    return List.copyOf(byKey.values());
  }

  E get(String haikuKey) {
    E e = byKey.get(haikuKey);
    if (e == null) {
      throw new IllegalArgumentException("no parameter " + haikuKey);
    }
    return e;
  }
}
