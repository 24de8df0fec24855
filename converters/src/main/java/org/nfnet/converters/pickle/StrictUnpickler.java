package org.nfnet.converters.pickle;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.converters.WeightFileException;
import org.nfnet.converters.payload.FileRegionPayload;
import org.nfnet.converters.pickle.PyValues.LargeText;
import org.nfnet.converters.pickle.PyValues.PyBytes;
import org.nfnet.converters.pickle.PyValues.PyDict;
import org.nfnet.converters.pickle.PyValues.PyGlobal;
import org.nfnet.converters.pickle.PyValues.PyList;
import org.nfnet.converters.pickle.PyValues.PyNone;
import org.nfnet.converters.pickle.PyValues.PyTuple;

/**
 * A pickle virtual machine for protocols 2-5 that understands exactly the objects a Haiku
 * parameter tree consists of, and nothing else.
 *
 * <p>Why our own reader instead of {@code net.razorvine:pickle}: Razorvine's Unpickler turns any
 * GLOBAL into an object through a registry of constructors (falling back to generic
 * ClassDict objects), so what the file names decides what Java code runs; and it materialises every
 * byte string as a {@code byte[]}, i.e. the whole 0.3-1.75 GB of weights would be copied onto the
 * heap before being copied again into tensors. Here, globals are matched against the fixed
 * {@link AllowedGlobal} list (anything else is refused, naming module, name and offset), each has
 * a hand-written meaning, and array bytes are never read: BINBYTES records (offset, length) and
 * skips, so the consumer later copies them once, straight from the file into a direct buffer.
 *
 * <p>The machine is iterative (no recursion over the data), bounds container nesting and the mark
 * stack, checks every length against the file size before using it, and checks memo references.
 */
final class StrictUnpickler {
  /** Haiku trees nest 2-3 levels, ndarray state 3; anything deeper is not a weight file. */
  static final int MAX_NESTING = 32;
  private static final int MAX_STACK = 1 << 20;
  /**
   * Budgets that keep a hostile file from exhausting the heap with tiny opcodes (a 2-byte APPEND
   * or a 5-byte LONG_BINPUT each cost tens of heap bytes). An F7+ pickle (about 1,500 arrays)
   * needs a few tens of thousands of each.
   */
  private static final int MAX_MEMO = 1 << 20;
  private static final long MAX_CONTAINER_ITEMS = 1 << 22;
  /** Strings longer than this are kept as file positions (they can only be protocol-2 bytes). */
  private static final int MAX_HEAP_STRING = 1 << 16;
  private static final int SMALL_BYTES = 256;

  private final PickleInput in;
  private final FileChannel channel;
  private final Path file;
  private final ArrayList<Object> stack = new ArrayList<>();
  private final ArrayList<Integer> marks = new ArrayList<>();
  private final Map<Long, Object> memo = new HashMap<>();
  private final Map<String, Integer> globalCounts = new LinkedHashMap<>();
  private final LayoutTraits layout = new LayoutTraits();
  private int protocol = -1;
  private long containerItems = 0;
  private long frameEnd = -1;

  StrictUnpickler(FileChannel channel, Path file) throws IOException {
    this.channel = channel;
    this.file = file;
    this.in = new PickleInput(channel, file);
  }

  int protocol() {
    return protocol;
  }

  Map<String, Integer> globalCounts() {
    return globalCounts;
  }

  /** What the pickle's byte layout revealed about the writer (filled while loading). */
  LayoutTraits layout() {
    return layout;
  }

  /** Counts one use of a global that reached the stack other than by GLOBAL (e.g. dill's _get_attr). */
  void countUse(AllowedGlobal g) {
    globalCounts.merge(g.qualifiedName(), 1, Integer::sum);
  }

  /** Runs the pickle up to STOP and returns the top-level object. */
  Object load() throws IOException {
    while (true) {
      long at = in.position();
      in.opcodeOffset = at;
      in.opcode = -1;
      if (in.atEnd()) {
        throw error(at, "file is truncated: it ends at offset " + at + " before the pickle's STOP opcode");
      }
      int op = in.u8();
      in.opcode = op;
      if (at == 0 && op != Opcodes.PROTO) {
        throw error(at, "not a protocol 2-5 pickle: first byte is " + Opcodes.hex(op)
            + " instead of PROTO (0x80)");
      }
      if (frameEnd >= 0 && at >= frameEnd) {
        frameEnd = -1; // left the current frame; the next FRAME (if any) starts another
      }
      if (execute(op, at)) {
        if (stack.size() != 1) {
          throw error(at, "STOP with " + stack.size() + " objects on the stack instead of 1");
        }
        return stack.get(0);
      }
      if (stack.size() > MAX_STACK) {
        throw error(at, "more than " + MAX_STACK + " objects on the pickle stack");
      }
    }
  }

  /** Executes one opcode; true on STOP. */
  private boolean execute(int op, long at) throws IOException {
    switch (op) {
      case Opcodes.PROTO -> {
        int p = in.u8();
        if (at != 0) {
          throw error(at, "PROTO opcode in the middle of the pickle");
        }
        if (p < 2 || p > 5) {
          throw error(at, "pickle protocol " + p + " is not supported (only 2-5)");
        }
        protocol = p;
      }
      case Opcodes.FRAME -> {
        long len = in.u64();
        in.require(len); // a frame longer than the rest of the file means truncation
        frameEnd = in.position() + len;
      }
      case Opcodes.STOP -> {
        return true;
      }
      case Opcodes.MARK -> {
        if (marks.size() >= MAX_NESTING) {
          throw error(at, "structure nested deeper than " + MAX_NESTING + " levels (MARK)");
        }
        marks.add(stack.size());
      }
      case Opcodes.POP -> {
        if (!marks.isEmpty() && marks.get(marks.size() - 1) == stack.size()) {
          marks.remove(marks.size() - 1); // POP of an empty mark frame pops the mark itself
        } else {
          pop(at);
        }
      }
      case Opcodes.POP_MARK -> popMark(at);
      case Opcodes.DUP -> push(peek(at));
      case Opcodes.NONE -> push(PyNone.NONE);
      case Opcodes.NEWTRUE -> push(Boolean.TRUE);
      case Opcodes.NEWFALSE -> push(Boolean.FALSE);
      case Opcodes.BININT -> push((long) in.i32());
      case Opcodes.BININT1 -> push((long) in.u8());
      case Opcodes.BININT2 -> push((long) in.u16());
      case Opcodes.LONG1 -> push(PyValues.intFromLittleEndian(in.bytes(in.u8())));
      case Opcodes.LONG4 -> {
        long n = in.u32();
        if (n > 64) {
          throw error(at, "LONG4 integer of " + n + " bytes is too large for a weight file");
        }
        push(PyValues.intFromLittleEndian(in.bytes((int) n)));
      }
      case Opcodes.BINFLOAT -> push(in.f64BigEndian());
      case Opcodes.SHORT_BINUNICODE -> push(in.utf8(in.u8()));
      case Opcodes.BINUNICODE -> pushText(in.u32(), at);
      case Opcodes.BINUNICODE8 -> pushText(in.u64(), at);
      case Opcodes.SHORT_BINBYTES -> pushBytes(in.u8());
      case Opcodes.BINBYTES -> pushBytes(in.u32());
      case Opcodes.BINBYTES8, Opcodes.BYTEARRAY8 -> pushBytes(in.u64());
      case Opcodes.EMPTY_TUPLE -> push(new PyTuple(List.of(), 1));
      case Opcodes.TUPLE -> push(tuple(popMark(at), at));
      case Opcodes.TUPLE1, Opcodes.TUPLE2, Opcodes.TUPLE3 -> {
        int n = op - Opcodes.TUPLE1 + 1;
        List<Object> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          items.add(0, pop(at));
        }
        push(tuple(items, at));
      }
      case Opcodes.EMPTY_LIST -> push(new PyList());
      case Opcodes.LIST -> {
        List<Object> items = popMark(at);
        PyList l = new PyList();
        for (Object o : items) {
          append(l, o, at);
        }
        push(l);
      }
      case Opcodes.APPEND -> {
        Object v = pop(at);
        append(expectList(peek(at), at), v, at);
      }
      case Opcodes.APPENDS -> {
        List<Object> items = popMark(at);
        PyList l = expectList(peek(at), at);
        for (Object o : items) {
          append(l, o, at);
        }
      }
      case Opcodes.EMPTY_DICT -> push(new PyDict("dict"));
      case Opcodes.DICT -> {
        List<Object> items = popMark(at);
        PyDict d = new PyDict("dict");
        setItems(d, items, at);
        push(d);
      }
      case Opcodes.SETITEM -> {
        Object v = pop(at);
        Object k = pop(at);
        setItems(expectDict(peek(at), at), List.of(k, v), at);
      }
      case Opcodes.SETITEMS -> {
        List<Object> items = popMark(at);
        setItems(expectDict(peek(at), at), items, at);
      }
      case Opcodes.BINPUT -> memoPut(in.u8(), at);
      case Opcodes.LONG_BINPUT -> memoPut(in.u32(), at);
      case Opcodes.MEMOIZE -> memoPut(memo.size(), at);
      case Opcodes.BINGET -> pushRecall(memoGet(in.u8(), at));
      case Opcodes.LONG_BINGET -> pushRecall(memoGet(in.u32(), at));
      case Opcodes.GLOBAL -> {
        String module = in.line(256);
        String name = in.line(256);
        push(resolve(module, name, at));
      }
      case Opcodes.STACK_GLOBAL -> {
        Object name = pop(at);
        Object module = pop(at);
        if (!(module instanceof String m) || !(name instanceof String n)) {
          throw error(at, "STACK_GLOBAL needs two strings, got " + PyValues.typeName(module) + " and "
              + PyValues.typeName(name));
        }
        push(resolve(m, n, at));
      }
      case Opcodes.REDUCE -> {
        Object args = pop(at);
        Object callable = pop(at);
        push(GlobalCalls.call(this, expectGlobal(callable, at), expectTuple(args, "REDUCE arguments", at), at));
      }
      case Opcodes.NEWOBJ -> {
        Object args = pop(at);
        Object cls = pop(at);
        push(GlobalCalls.newObject(this, expectGlobal(cls, at), expectTuple(args, "NEWOBJ arguments", at), at));
      }
      case Opcodes.NEWOBJ_EX -> {
        Object kwargs = pop(at);
        Object args = pop(at);
        Object cls = pop(at);
        if (!(kwargs instanceof PyDict kw) || !kw.map.isEmpty()) {
          throw error(at, "NEWOBJ_EX with keyword arguments is not used by weight files");
        }
        push(GlobalCalls.newObject(this, expectGlobal(cls, at), expectTuple(args, "NEWOBJ_EX arguments", at), at));
      }
      case Opcodes.BUILD -> {
        Object state = pop(at);
        GlobalCalls.build(this, peek(at), state, at);
      }
      default -> throw error(at, "unsupported pickle opcode " + Opcodes.hex(op)
          + (Opcodes.isKnown(op) ? " (" + Opcodes.name(op) + ", never written for weight files)" : " (unknown)"));
    }
    return false;
  }

  // ---- helpers used by GlobalCalls -------------------------------------------------------------

  WeightFileException error(long at, String message) {
    return new WeightFileException(file, at, message);
  }

  FileChannel channel() {
    return channel;
  }

  PyTuple expectTuple(Object v, String what, long at) {
    if (v instanceof PyTuple t) {
      return t;
    }
    throw error(at, what + " must be a tuple, got " + PyValues.typeName(v));
  }

  // ---- internals --------------------------------------------------------------------------------

  private Object resolve(String module, String name, long at) {
    AllowedGlobal g = AllowedGlobal.lookup(module, name);
    if (g == null) {
      throw error(at, "refused global '" + module + " " + name + "' (" + module + "." + name
          + "): weight files may only reference Haiku mappings, numpy arrays/dtypes, OrderedDict, "
          + "_codecs.encode and dill's _create_array, _import_module and _get_attr");
    }
    globalCounts.merge(g.qualifiedName(), 1, Integer::sum);
    return new PyGlobal(g);
  }

  /** A memo recall; recalled globals are counted again, so counts say how often each is used. */
  private void pushRecall(Object v) {
    if (v instanceof PyGlobal g) {
      globalCounts.merge(g.global().qualifiedName(), 1, Integer::sum);
    }
    push(v);
  }

  private void pushText(long len, long at) throws IOException {
    in.require(len);
    if (len <= MAX_HEAP_STRING) {
      push(in.utf8((int) len));
    } else {
      long offset = in.position();
      in.skip(len);
      push(new LargeText(offset, len));
    }
  }

  private void pushBytes(long len) throws IOException {
    in.require(len);
    long offset = in.position();
    byte[] small = null;
    if (len <= SMALL_BYTES) {
      small = in.bytes((int) len);
    } else {
      in.skip(len);
    }
    push(new PyBytes(new FileRegionPayload(channel, offset, len), small));
  }

  private PyTuple tuple(List<Object> items, long at) {
    countItems(items.size(), at);
    int depth = 1;
    for (Object o : items) {
      depth = Math.max(depth, PyValues.depthOf(o) + 1);
    }
    checkDepth(depth, at);
    return new PyTuple(items, depth);
  }

  private void append(PyList l, Object v, long at) {
    countItems(1, at);
    l.depth = Math.max(l.depth, PyValues.depthOf(v) + 1);
    checkDepth(l.depth, at);
    l.items.add(v);
  }

  void setItems(PyDict d, List<Object> kv, long at) {
    if (kv.size() % 2 != 0) {
      throw error(at, "odd number of items for a dict");
    }
    countItems(kv.size() / 2, at);
    for (int i = 0; i < kv.size(); i += 2) {
      Object k = kv.get(i);
      if (!(k instanceof String key)) {
        throw error(at, "dict key must be a str, got " + PyValues.typeName(k));
      }
      Object v = kv.get(i + 1);
      d.depth = Math.max(d.depth, PyValues.depthOf(v) + 1);
      checkDepth(d.depth, at);
      d.map.put(key, v);
    }
  }

  private void countItems(long n, long at) {
    containerItems += n;
    if (containerItems > MAX_CONTAINER_ITEMS) {
      throw error(at, "more than " + MAX_CONTAINER_ITEMS + " items in containers; not a weight file");
    }
  }

  void checkDepth(int depth, long at) {
    if (depth > MAX_NESTING) {
      throw error(at, "structure nested deeper than " + MAX_NESTING + " levels");
    }
  }

  private void memoPut(long index, long at) {
    if (stack.isEmpty()) {
      throw error(at, "memo store with an empty stack");
    }
    if (memo.size() >= MAX_MEMO && !memo.containsKey(index)) {
      throw error(at, "more than " + MAX_MEMO + " memo entries; not a weight file");
    }
    memo.put(index, peek(at));
  }

  private Object memoGet(long index, long at) {
    Object v = memo.get(index);
    if (v == null) {
      throw error(at, "memo reference " + index + " was never stored (memo has " + memo.size()
          + " entries)");
    }
    return v;
  }

  private void push(Object v) {
    stack.add(v);
  }

  private Object pop(long at) {
    int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
    if (stack.size() <= floor) {
      throw error(at, in.opcodeName() + " needs a value but the stack is empty");
    }
    return stack.remove(stack.size() - 1);
  }

  private Object peek(long at) {
    int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
    if (stack.size() <= floor) {
      throw error(at, in.opcodeName() + " needs a value but the stack is empty");
    }
    return stack.get(stack.size() - 1);
  }

  private List<Object> popMark(long at) {
    if (marks.isEmpty()) {
      throw error(at, in.opcodeName() + " without a preceding MARK");
    }
    int m = marks.remove(marks.size() - 1);
    List<Object> sub = new ArrayList<>(stack.subList(m, stack.size()));
    stack.subList(m, stack.size()).clear();
    return sub;
  }

  private PyList expectList(Object v, long at) {
    if (v instanceof PyList l) {
      return l;
    }
    throw error(at, in.opcodeName() + " on a " + PyValues.typeName(v) + " instead of a list");
  }

  private PyDict expectDict(Object v, long at) {
    if (v instanceof PyDict d) {
      return d;
    }
    throw error(at, in.opcodeName() + " on a " + PyValues.typeName(v) + " instead of a dict");
  }

  private AllowedGlobal expectGlobal(Object v, long at) {
    if (v instanceof PyGlobal g) {
      return g.global();
    }
    throw error(at, in.opcodeName() + " on a " + PyValues.typeName(v) + ", which is not callable");
  }
}
