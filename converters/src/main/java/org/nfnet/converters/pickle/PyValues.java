package org.nfnet.converters.pickle;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import org.nfnet.converters.payload.Payload;

/**
 * The closed set of values {@link StrictUnpickler} can produce. Python ints, floats, bools and
 * short strings are Java {@code Long}/{@code BigInteger}, {@code Double}, {@code Boolean},
 * {@code String}; everything else is one of these types. Containers record their nesting depth
 * when built, so depth is bounded without ever recursing over a (possibly cyclic) structure.
 */
final class PyValues {
  private PyValues() {}

  /** Python's None. */
  enum PyNone { NONE }

  /** An allowed global (class or function), see {@link AllowedGlobal}. */
  record PyGlobal(AllowedGlobal global) {}

  /**
   * A module as dill pickles it ({@code _import_module(name)}): only a name. Nothing is imported,
   * and a module value can only be the first argument of {@code _get_attr}.
   */
  record PyModule(String name) {}

  /** A byte string; {@code small} holds the content when it is at most 256 bytes. */
  record PyBytes(Payload payload, byte[] small) {}

  /** A str too long to be worth decoding to the heap (only useful as latin-1 bytes, protocol 2). */
  record LargeText(long offset, long utf8Length) {}

  static final class PyTuple {
    final List<Object> items;
    final int depth;

    PyTuple(List<Object> items, int depth) {
      this.items = List.copyOf(items);
      this.depth = depth;
    }
  }

  static final class PyList {
    final ArrayList<Object> items = new ArrayList<>();
    int depth = 1;
  }

  /** A dict, or a dict-like object (FlatMapping, OrderedDict) with string keys. */
  static final class PyDict {
    final String type;
    final LinkedHashMap<String, Object> map = new LinkedHashMap<>();
    int depth = 1;

    PyDict(String type) {
      this.type = type;
    }
  }

  /** A numpy dtype: the type string from its constructor, the byte order from its state. */
  static final class PyDType {
    final String code;
    char order = '=';

    PyDType(String code) {
      this.code = code;
    }
  }

  /** A numpy array, first created empty by _reconstruct, then filled by BUILD (setstate). */
  static final class PyArray {
    final long offset;
    boolean built;
    long[] shape;
    PyDType dtype;
    boolean fortran;
    Payload data;

    PyArray(long offset) {
      this.offset = offset;
    }
  }

  static int depthOf(Object v) {
    if (v instanceof PyTuple t) {
      return t.depth;
    }
    if (v instanceof PyList l) {
      return l.depth;
    }
    if (v instanceof PyDict d) {
      return d.depth;
    }
    return 0;
  }

  /** A short type name for messages; never prints contents (they may be huge or cyclic). */
  static String typeName(Object v) {
    if (v == null) {
      return "nothing";
    }
    if (v instanceof PyNone) {
      return "None";
    }
    if (v instanceof String || v instanceof LargeText) {
      return "str";
    }
    if (v instanceof Long || v instanceof java.math.BigInteger) {
      return "int";
    }
    if (v instanceof Double) {
      return "float";
    }
    if (v instanceof Boolean) {
      return "bool";
    }
    if (v instanceof PyBytes) {
      return "bytes";
    }
    if (v instanceof PyTuple t) {
      return "tuple of " + t.items.size();
    }
    if (v instanceof PyList) {
      return "list";
    }
    if (v instanceof PyDict d) {
      return d.type;
    }
    if (v instanceof PyDType) {
      return "numpy.dtype";
    }
    if (v instanceof PyArray) {
      return "numpy.ndarray";
    }
    if (v instanceof PyGlobal g) {
      return g.global().qualifiedName();
    }
    if (v instanceof PyModule m) {
      return "module " + m.name();
    }
    return v.getClass().getSimpleName();
  }

  /** Little-endian two's complement, as LONG1/LONG4 store it. */
  static Object intFromLittleEndian(byte[] le) {
    if (le.length == 0) {
      return 0L;
    }
    byte[] be = new byte[le.length];
    for (int i = 0; i < le.length; i++) {
      be[i] = le[le.length - 1 - i];
    }
    java.math.BigInteger v = new java.math.BigInteger(be);
    return v.bitLength() < 64 ? (Object) v.longValue() : v;
  }
}
