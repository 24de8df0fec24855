package org.nfnet.converters;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Test helper: writes pickle byte streams opcode by opcode, including hostile ones. Payloads can be
 * left as holes ({@link #binbytes8Hole}) so F0-sized structures are written as sparse files in
 * milliseconds.
 */
final class PickleWriter implements AutoCloseable {
  private final FileChannel ch;
  private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
  /** Memo slot of dill's _reconstruct in the release layout. */
  static final int RECONSTRUCT_MEMO = 200;
  private boolean releaseLayout;
  private String dillModule = "dill._dill";
  private boolean reconstructStored;

  /** One array to write in the release format; latin1 = protocol-2 style _codecs.encode payload. */
  record Arr(long[] shape, String dtypeCode, String order, byte[] data, long holeBytes, boolean latin1) {
    Arr(long[] shape, String dtypeCode, String order, byte[] data, long holeBytes) {
      this(shape, dtypeCode, order, data, holeBytes, false);
    }

    Arr asLatin1() {
      return new Arr(shape, dtypeCode, order, data, holeBytes, true);
    }

    static Arr f32(long[] shape, float... values) {
      ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : values) {
        b.putFloat(v);
      }
      return new Arr(shape, "f4", "<", b.array(), -1);
    }

    static Arr hole(long[] shape) {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return new Arr(shape, "f4", "<", null, n * 4);
    }
  }

  PickleWriter(Path file) throws IOException {
    ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING);
  }

  /**
   * Writes {@link #array} and {@link #haikuTree} in the byte layout of DeepMind's release files
   * (dill 0.3.x / numpy <= 1.18, see ../shared/reference/release_format.md) instead of the plain one.
   */
  PickleWriter releaseLayout() {
    releaseLayout = true;
    return this;
  }

  /** The module dill's functions are taken from ({@code dill._dill}; older dill: {@code dill.dill}). */
  PickleWriter dillModule(String module) {
    dillModule = module;
    return this;
  }

  /** dill 0.3.x's {@code _get_attr(_import_module(module), name)}, left on the stack. */
  PickleWriter dillGetAttr(String module, String name) {
    global(dillModule, "_get_attr");
    global(dillModule, "_import_module").str(module).op(0x85, 'R');
    return str(name).op(0x86, 'R');
  }

  PickleWriter op(int... ops) {
    for (int o : ops) {
      room(1);
      buf.put((byte) o);
    }
    return this;
  }

  PickleWriter raw(byte[] b) {
    for (byte x : b) {
      op(x & 0xFF);
    }
    return this;
  }

  PickleWriter proto(int p) {
    return op(0x80, p);
  }

  PickleWriter global(String module, String name) {
    op('c');
    raw((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    return this;
  }

  PickleWriter stackGlobal(String module, String name) {
    return str(module).str(name).op(0x93);
  }

  PickleWriter str(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    op(0x8c, b.length);
    return raw(b);
  }

  PickleWriter integer(long v) {
    if (v >= 0 && v < 256) {
      return op('K', (int) v);
    }
    op('J');
    room(4);
    buf.putInt((int) v);
    return this;
  }

  /** LONG1 for values beyond 32 bits. */
  PickleWriter long1(long v) {
    op(0x8a, 8);
    room(8);
    buf.putLong(v);
    return this;
  }

  PickleWriter bytes(byte[] data) {
    op(0x8e);
    room(8);
    buf.putLong(data.length);
    return raw(data);
  }

  /** Protocol 2's bytes: _codecs.encode(BINUNICODE text, 'latin1'). */
  PickleWriter latin1(byte[] data) {
    global("_codecs", "encode");
    char[] cs = new char[data.length];
    for (int i = 0; i < cs.length; i++) {
      cs[i] = (char) (data[i] & 0xFF);
    }
    byte[] utf8 = new String(cs).getBytes(StandardCharsets.UTF_8);
    op('X');
    room(4);
    buf.putInt(utf8.length);
    raw(utf8);
    return str("latin1").op(0x86, 'R');
  }

  PickleWriter binbytes8Hole(long len) throws IOException {
    if (releaseLayout && len <= 0xFFFFFFFFL) {
      op('B'); // protocol 3's BINBYTES, as in the release files
      room(4);
      buf.putInt((int) len);
    } else {
      op(0x8e);
      room(8);
      buf.putLong(len);
    }
    flush();
    ch.position(ch.position() + len);
    return this;
  }

  PickleWriter shape(long[] shape) {
    op('(');
    for (long d : shape) {
      if (d > Integer.MAX_VALUE || d < Integer.MIN_VALUE) {
        long1(d);
      } else {
        integer(d);
      }
    }
    return op('t');
  }

  /** An ndarray exactly as numpy pickles it (without memo use). */
  PickleWriter array(Arr a) throws IOException {
    if (!releaseLayout) {
      global("numpy.core.multiarray", "_reconstruct");
    } else if (!reconstructStored) {
      dillGetAttr("numpy.core._multiarray_umath", "_reconstruct").op('q', RECONSTRUCT_MEMO);
      reconstructStored = true;
    } else {
      op('h', RECONSTRUCT_MEMO);
    }
    global("numpy", "ndarray").integer(0).op(0x85);
    op('C', 1, 'b').op(0x87).op('R');
    op('(').integer(1).shape(a.shape());
    global("numpy", "dtype").str(a.dtypeCode());
    if (releaseLayout) {
      integer(0).integer(1).op(0x87, 'R'); // numpy <= 1.18: flags as ints
    } else {
      op(0x89, 0x88, 0x87, 'R');
    }
    op('(').integer(3).str(a.order()).op('N', 'N', 'N').integer(-1).integer(-1).integer(0).op('t', 'b');
    op(0x89);
    if (a.latin1()) {
      latin1(a.data());
    } else if (a.data() != null && releaseLayout) {
      op('B');
      room(4);
      buf.putInt(a.data().length);
      raw(a.data());
    } else if (a.data() != null) {
      bytes(a.data());
    } else {
      binbytes8Hole(a.holeBytes());
    }
    return op('t', 'b');
  }

  /** A complete release-format pickle of module -> name -> array. */
  PickleWriter haikuTree(Map<String, Map<String, Arr>> tree) throws IOException {
    proto(releaseLayout ? 3 : 4).global("haiku._src.data_structures", "FlatMapping").op('}');
    for (Map.Entry<String, Map<String, Arr>> m : tree.entrySet()) {
      str(m.getKey()).global("haiku._src.data_structures", "FlatMapping").op('}');
      for (Map.Entry<String, Arr> p : m.getValue().entrySet()) {
        str(p.getKey()).array(p.getValue()).op('s');
      }
      op(0x85, 'R', 's');
    }
    return op(0x85, 'R', '.');
  }

  private void room(int n) {
    if (buf.remaining() < n) {
      try {
        flush();
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    }
  }

  private void flush() throws IOException {
    buf.flip();
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
    buf.clear();
  }

  @Override
  public void close() throws IOException {
    flush();
    ch.close();
  }
}
