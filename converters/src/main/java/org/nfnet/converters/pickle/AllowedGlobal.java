package org.nfnet.converters.pickle;

import java.util.HashMap;
import java.util.Map;

/**
 * The only Python globals a weight pickle may name. A GLOBAL / STACK_GLOBAL opcode is looked up
 * here and nowhere else; each entry has a fixed, hand-written meaning in {@link StrictUnpickler}.
 * The file never selects Java code: no reflection, no registry of constructors.
 */
enum AllowedGlobal {
  FLAT_MAPPING("haiku._src.data_structures", "FlatMapping"),
  FLAT_MAP("haiku._src.data_structures", "FlatMap"),
  FROZEN_DICT("haiku._src.data_structures", "frozendict"),
  ORDERED_DICT("collections", "OrderedDict"),
  RECONSTRUCT("numpy.core.multiarray", "_reconstruct"),
  RECONSTRUCT_NP2("numpy._core.multiarray", "_reconstruct"),
  /** numpy's protocol-5 reduction: {@code _frombuffer(buffer, dtype, shape, order)}. */
  FROMBUFFER("numpy.core.numeric", "_frombuffer"),
  FROMBUFFER_NP2("numpy._core.numeric", "_frombuffer"),
  NDARRAY("numpy", "ndarray"),
  DTYPE("numpy", "dtype"),
  /** Protocol 2 writes Python 3 bytes as {@code _codecs.encode(text, 'latin1')}. */
  CODECS_ENCODE("_codecs", "encode"),
  /** Newer dill: {@code _create_array(f, args, state, npdict)} = f(*args), then setstate(state). */
  DILL_CREATE_ARRAY("dill._dill", "_create_array"),
  /**
   * dill 0.3.x (DeepMind's release files): {@code _import_module(name)}, accepted only for numpy's
   * extension module and yielding an inert module value (nothing is imported).
   */
  DILL_IMPORT_MODULE("dill._dill", "_import_module"),
  /** dill 0.3.x: {@code _get_attr(module, name)}, accepted only as (numpy module, '_reconstruct'). */
  DILL_GET_ATTR("dill._dill", "_get_attr");

  /** Older dill releases named the same module {@code dill.dill}. */
  private static final String OLD_DILL = "dill.dill";

  private static final Map<String, AllowedGlobal> BY_NAME = new HashMap<>();

  static {
    for (AllowedGlobal g : values()) {
      BY_NAME.put(g.module + " " + g.name, g);
    }
  }

  final String module;
  final String name;

  AllowedGlobal(String module, String name) {
    this.module = module;
    this.name = name;
  }

  /** The allowed global with this module and name, or null. */
  static AllowedGlobal lookup(String module, String name) {
    String m = module.equals(OLD_DILL) ? DILL_CREATE_ARRAY.module : module;
    return BY_NAME.get(m + " " + name);
  }

  boolean isMapping() {
    return this == FLAT_MAPPING || this == FLAT_MAP || this == FROZEN_DICT || this == ORDERED_DICT;
  }

  boolean isReconstruct() {
    return this == RECONSTRUCT || this == RECONSTRUCT_NP2;
  }

  String qualifiedName() {
    return module + "." + name;
  }
}
