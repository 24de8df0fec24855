package org.nfnet.converters.pickle;

import java.io.IOException;
import java.util.List;
import org.nfnet.converters.payload.MemoryPayload;
import org.nfnet.converters.pickle.PyValues.LargeText;
import org.nfnet.converters.pickle.PyValues.PyArray;
import org.nfnet.converters.pickle.PyValues.PyBytes;
import org.nfnet.converters.pickle.PyValues.PyDType;
import org.nfnet.converters.pickle.PyValues.PyDict;
import org.nfnet.converters.pickle.PyValues.PyGlobal;
import org.nfnet.converters.pickle.PyValues.PyList;
import org.nfnet.converters.pickle.PyValues.PyModule;
import org.nfnet.converters.pickle.PyValues.PyNone;
import org.nfnet.converters.pickle.PyValues.PyTuple;

/**
 * What REDUCE, NEWOBJ and BUILD mean for each {@link AllowedGlobal}: the hand-written Python
 * semantics of the handful of callables weight pickles use, with every argument type checked.
 */
final class GlobalCalls {
  /**
   * The only modules {@code dill._dill._import_module} may name: numpy's extension module (numpy 1.x
   * and 2.x spellings) and the public module that re-exports {@code _reconstruct}.
   */
  private static final java.util.Set<String> NUMPY_MODULES = java.util.Set.of(
      "numpy.core._multiarray_umath", "numpy._core._multiarray_umath", "numpy.core.multiarray");

  private GlobalCalls() {}

  /** REDUCE: {@code callable(*args)}. */
  static Object call(StrictUnpickler u, AllowedGlobal g, PyTuple args, long at) throws IOException {
    List<Object> a = args.items;
    switch (g) {
      case FLAT_MAPPING, FLAT_MAP, FROZEN_DICT, ORDERED_DICT -> {
        PyDict d = new PyDict(g.qualifiedName());
        if (a.size() > 1) {
          throw u.error(at, g.qualifiedName() + " called with " + a.size() + " arguments");
        }
        if (a.size() == 1) {
          fill(u, d, a.get(0), g, at);
        }
        return d;
      }
      case RECONSTRUCT, RECONSTRUCT_NP2 -> {
        // _reconstruct(numpy.ndarray, (0,), b'b'): an empty array that BUILD then fills
        if (a.size() != 3 || !(a.get(0) instanceof PyGlobal cls) || cls.global() != AllowedGlobal.NDARRAY) {
          throw u.error(at, g.qualifiedName() + " must be called as (numpy.ndarray, shape, typecode)");
        }
        return new PyArray(at);
      }
      case DTYPE -> {
        if (a.isEmpty() || !(a.get(0) instanceof String code)) {
          throw u.error(at, "numpy.dtype must be called with a type string, got "
              + (a.isEmpty() ? "no arguments" : PyValues.typeName(a.get(0))));
        }
        // dtype(code, align, copy): numpy >= 1.19 pickles the flags as bools, <= 1.18 as ints 0/1
        if (a.size() != 1 && a.size() != 3) {
          throw u.error(at, "numpy.dtype called with " + a.size() + " arguments " + describe(a)
              + " instead of (type, align, copy)");
        }
        for (int i = 1; i < a.size(); i++) {
          Object f = a.get(i);
          if (f instanceof Long l && (l == 0 || l == 1)) {
            u.layout().intDtypeFlags = true;
          } else if (f instanceof Boolean) {
            u.layout().boolDtypeFlags = true;
          } else {
            throw u.error(at, "numpy.dtype flag " + i + " is " + describe(List.of(f))
                + "; only bools or ints 0/1 are dtype flags");
          }
        }
        return new PyDType(code);
      }
      case DILL_IMPORT_MODULE -> {
        if (a.size() != 1 || !(a.get(0) instanceof String name) || !NUMPY_MODULES.contains(name)) {
          throw u.error(at, "refused call dill._dill._import_module" + describe(a)
              + ": only _import_module(name) with name one of " + new java.util.TreeSet<>(NUMPY_MODULES)
              + " is accepted (how dill pickles numpy's _reconstruct); nothing is ever imported");
        }
        return new PyModule(name);
      }
      case DILL_GET_ATTR -> {
        if (a.size() != 2 || !(a.get(0) instanceof PyModule m) || !"_reconstruct".equals(a.get(1))) {
          throw u.error(at, "refused call dill._dill._get_attr" + describe(a)
              + ": only _get_attr(<numpy module from _import_module>, '_reconstruct') is accepted");
        }
        AllowedGlobal recon = m.name().startsWith("numpy._core")
            ? AllowedGlobal.RECONSTRUCT_NP2 : AllowedGlobal.RECONSTRUCT;
        u.countUse(recon);
        u.layout().dillReconstruct = true;
        return new PyGlobal(recon);
      }
      case CODECS_ENCODE -> {
        return latin1Bytes(u, a, at);
      }
      case DILL_CREATE_ARRAY -> {
        // _create_array(f, args, state, npdict=None): array = f(*args); array.__setstate__(state)
        if (a.size() < 3 || a.size() > 4 || !(a.get(0) instanceof PyGlobal f) || !f.global().isReconstruct()) {
          throw u.error(at, "dill._dill._create_array must be called as (_reconstruct, args, state[, npdict])");
        }
        Object array = call(u, f.global(), u.expectTuple(a.get(1), "_create_array args", at), at);
        setArrayState(u, (PyArray) array, a.get(2), at);
        if (a.size() == 4 && !(a.get(3) instanceof PyNone)
            && !(a.get(3) instanceof PyDict nd && nd.map.isEmpty())) {
          throw u.error(at, "dill._dill._create_array with extra attributes (an ndarray subclass) is not a weight array");
        }
        return array;
      }
      case FROMBUFFER, FROMBUFFER_NP2 -> {
        // numpy's protocol-5 form: _frombuffer(buffer, dtype, shape, order)
        if (a.size() != 4 || !(a.get(0) instanceof PyBytes data) || !(a.get(1) instanceof PyDType dt)
            || !(a.get(3) instanceof String order)) {
          throw u.error(at, g.qualifiedName() + " must be called as (bytes, dtype, shape, order)");
        }
        PyArray arr = new PyArray(at);
        arr.shape = shape(u, a.get(2), at);
        arr.dtype = dt;
        arr.fortran = order.equals("F");
        arr.data = data.payload();
        arr.built = true;
        return arr;
      }
      case NDARRAY -> throw u.error(at, "numpy.ndarray is only accepted as the first argument of _reconstruct");
      default -> throw u.error(at, g.qualifiedName() + " cannot be called");
    }
  }

  /** NEWOBJ: {@code cls.__new__(cls, *args)}; only the mapping classes make sense here. */
  static Object newObject(StrictUnpickler u, AllowedGlobal g, PyTuple args, long at) {
    if (!g.isMapping() || !args.items.isEmpty()) {
      throw u.error(at, "cannot create a " + g.qualifiedName() + " with NEWOBJ");
    }
    return new PyDict(g.qualifiedName());
  }

  /** BUILD: {@code obj.__setstate__(state)} for arrays and dtypes. */
  static void build(StrictUnpickler u, Object target, Object state, long at) {
    if (target instanceof PyArray arr) {
      setArrayState(u, arr, state, at);
    } else if (target instanceof PyDType dt) {
      // (version 3|4, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
      PyTuple t = u.expectTuple(state, "numpy.dtype state", at);
      if (t.items.size() < 2 || !(t.items.get(1) instanceof String order) || order.length() != 1) {
        throw u.error(at, "numpy.dtype state has no byte-order character");
      }
      if (t.items.size() > 2 && !(t.items.get(2) instanceof PyNone)) {
        throw u.error(at, "numpy.dtype with a sub-array is not a weight dtype");
      }
      dt.order = order.charAt(0);
    } else if (target instanceof PyDict d && state instanceof PyDict s) {
      u.setItems(d, flatten(s), at); // dict subclasses created by NEWOBJ: state is the item dict
    } else {
      throw u.error(at, "BUILD on a " + PyValues.typeName(target) + " with a " + PyValues.typeName(state)
          + " state is not part of a weight file");
    }
  }

  private static void setArrayState(StrictUnpickler u, PyArray arr, Object state, long at) {
    if (arr.built) {
      throw u.error(at, "numpy array state set twice");
    }
    List<Object> s = u.expectTuple(state, "numpy.ndarray state", at).items;
    if (s.size() == 5) {
      s = s.subList(1, 5); // (version, shape, dtype, is_fortran, data) -> drop version
    }
    if (s.size() != 4) {
      throw u.error(at, "numpy.ndarray state must have 4 or 5 items, got " + s.size());
    }
    arr.shape = shape(u, s.get(0), at);
    if (!(s.get(1) instanceof PyDType dt)) {
      throw u.error(at, "numpy.ndarray state has a " + PyValues.typeName(s.get(1)) + " instead of a dtype");
    }
    if (!(s.get(2) instanceof Boolean fortran)) {
      throw u.error(at, "numpy.ndarray state has no is_fortran flag");
    }
    if (s.get(3) instanceof PyBytes b) {
      arr.data = b.payload();
    } else if (s.get(3) instanceof PyList) {
      throw u.error(at, "numpy object arrays (data as a list) are not weight arrays");
    } else {
      throw u.error(at, "numpy.ndarray data is a " + PyValues.typeName(s.get(3)) + ", not bytes");
    }
    arr.dtype = dt;
    arr.fortran = fortran;
    arr.built = true;
  }

  private static long[] shape(StrictUnpickler u, Object v, long at) {
    PyTuple t = u.expectTuple(v, "array shape", at);
    long[] shape = new long[t.items.size()];
    for (int i = 0; i < shape.length; i++) {
      Object d = t.items.get(i);
      if (!(d instanceof Long l)) {
        throw u.error(at, "array shape entry " + i + " is a " + PyValues.typeName(d)
            + (d instanceof java.math.BigInteger ? " beyond 64 bits" : "") + ", not an int");
      }
      shape[i] = l;
    }
    return shape;
  }

  private static void fill(StrictUnpickler u, PyDict d, Object src, AllowedGlobal g, long at) {
    if (src instanceof PyDict s) {
      u.setItems(d, flatten(s), at);
    } else if (src instanceof PyList l) {
      for (Object pair : l.items) {
        PyTuple t = u.expectTuple(pair, g.qualifiedName() + " item", at);
        if (t.items.size() != 2) {
          throw u.error(at, g.qualifiedName() + " items must be (key, value) pairs");
        }
        u.setItems(d, t.items, at);
      }
    } else {
      throw u.error(at, g.qualifiedName() + " called with a " + PyValues.typeName(src));
    }
  }

  /**
   * Arguments for a refusal message, e.g. {@code (str 'os', bool)}: types, plus the text of short
   * strings with anything outside printable ASCII escaped (the file chose them).
   */
  static String describe(List<Object> args) {
    StringBuilder sb = new StringBuilder("(");
    for (int i = 0; i < args.size(); i++) {
      Object v = args.get(i);
      sb.append(i == 0 ? "" : ", ").append(PyValues.typeName(v));
      if (v instanceof String str) {
        sb.append(" '");
        for (int j = 0; j < Math.min(str.length(), 80); j++) {
          char c = str.charAt(j);
          sb.append(c >= 0x20 && c < 0x7f && c != '\'' ? String.valueOf(c) : String.format("\\u%04x", (int) c));
        }
        sb.append(str.length() > 80 ? "...'" : "'");
      }
    }
    return sb.append(')').toString();
  }

  private static List<Object> flatten(PyDict s) {
    java.util.ArrayList<Object> kv = new java.util.ArrayList<>(s.map.size() * 2);
    s.map.forEach((k, v) -> {
      kv.add(k);
      kv.add(v);
    });
    return kv;
  }

  /** {@code _codecs.encode(text, 'latin1')}: protocol 2's spelling of a bytes object. */
  private static PyBytes latin1Bytes(StrictUnpickler u, List<Object> a, long at) throws IOException {
    if (a.size() != 2 || !(a.get(1) instanceof String enc)
        || !(enc.equalsIgnoreCase("latin1") || enc.equalsIgnoreCase("latin-1"))) {
      throw u.error(at, "_codecs.encode is only accepted as encode(text, 'latin1')");
    }
    if (a.get(0) instanceof String text) {
      byte[] out = new byte[text.length()];
      for (int i = 0; i < out.length; i++) {
        char c = text.charAt(i);
        if (c > 0xFF) {
          throw u.error(at, "_codecs.encode text has a character above U+00FF");
        }
        out[i] = (byte) c;
      }
      return new PyBytes(new MemoryPayload(out), out.length <= 256 ? out : null);
    }
    if (a.get(0) instanceof LargeText t) {
      try {
        return new PyBytes(Latin1TextPayload.of(u.channel(), t.offset(), t.utf8Length()), null);
      } catch (IllegalArgumentException e) {
        throw u.error(at, e.getMessage());
      }
    }
    throw u.error(at, "_codecs.encode called on a " + PyValues.typeName(a.get(0)));
  }
}
