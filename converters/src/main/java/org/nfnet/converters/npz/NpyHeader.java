package org.nfnet.converters.npz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The header of a numpy {@code .npy} file: magic {@code \x93NUMPY}, version (1.0, 2.0, 3.0),
 * header length (u16 for v1, u32 for v2/v3), then a Python dict literal such as
 * {@code {'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }} padded to a multiple of 64.
 * The literal is parsed by a tiny grammar (strings, booleans, tuples of ints) - never evaluated.
 */
record NpyHeader(int majorVersion, String descr, boolean fortranOrder, long[] shape, int headerLength) {
  static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  /** Largest header accepted; numpy itself limits headers to 10 KB unless told otherwise. */
  static final int MAX_HEADER = 1 << 16;

  /**
   * Parses a header from the first bytes of an entry.
   *
   * @param start at least the first 12 bytes; all of the header if available
   * @return the header, or throws IllegalArgumentException describing what is wrong
   */
  static NpyHeader parse(ByteBuffer start) {
    ByteBuffer b = start.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    if (b.remaining() < 10) {
      throw new IllegalArgumentException("too short for a .npy header");
    }
    for (byte m : MAGIC) {
      if (b.get() != m) {
        throw new IllegalArgumentException("not a .npy array (bad magic)");
      }
    }
    int major = b.get() & 0xFF;
    b.get(); // minor
    long len;
    if (major == 1) {
      len = b.getShort() & 0xFFFF;
    } else if (major == 2 || major == 3) {
      if (b.remaining() < 4) {
        throw new IllegalArgumentException("too short for a .npy header");
      }
      len = b.getInt() & 0xFFFFFFFFL;
    } else {
      throw new IllegalArgumentException(".npy format version " + major + " is not supported (1-3)");
    }
    if (len > MAX_HEADER) {
      throw new IllegalArgumentException(".npy header claims " + len + " bytes (limit " + MAX_HEADER + ")");
    }
    if (b.remaining() < len) {
      throw new IllegalArgumentException(".npy header is truncated");
    }
    byte[] text = new byte[(int) len];
    b.get(text);
    String s = new String(text, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    Map<String, Object> dict = new LiteralParser(s).dict();
    if (!(dict.get("descr") instanceof String descr)) {
      throw new IllegalArgumentException(".npy header has no string 'descr' (structured dtypes are not supported)");
    }
    if (!(dict.get("fortran_order") instanceof Boolean fortran)) {
      throw new IllegalArgumentException(".npy header has no 'fortran_order'");
    }
    if (!(dict.get("shape") instanceof long[] shape)) {
      throw new IllegalArgumentException(".npy header has no 'shape' tuple");
    }
    return new NpyHeader(major, descr, fortran, shape, b.position() - start.position());
  }

  /** Recursive-descent parser for the header's dict literal; depth is fixed (dict > tuple). */
  private static final class LiteralParser {
    private final String s;
    private int i;

    LiteralParser(String s) {
      this.s = s;
    }

    Map<String, Object> dict() {
      Map<String, Object> m = new HashMap<>();
      expect('{');
      while (true) {
        skipWs();
        if (peek() == '}') {
          i++;
          return m;
        }
        String key = string();
        expect(':');
        skipWs();
        char c = peek();
        Object v;
        if (c == '\'' || c == '"') {
          v = string();
        } else if (c == '(') {
          v = intTuple();
        } else if (s.startsWith("True", i)) {
          i += 4;
          v = Boolean.TRUE;
        } else if (s.startsWith("False", i)) {
          i += 5;
          v = Boolean.FALSE;
        } else {
          throw new IllegalArgumentException(".npy header value for '" + key + "' is not supported: " + snippet());
        }
        m.put(key, v);
        skipWs();
        if (peek() == ',') {
          i++;
        }
      }
    }

    private long[] intTuple() {
      expect('(');
      List<Long> dims = new ArrayList<>();
      while (true) {
        skipWs();
        if (peek() == ')') {
          i++;
          break;
        }
        int st = i;
        if (peek() == '-') {
          i++;
        }
        while (i < s.length() && Character.isDigit(s.charAt(i))) {
          i++;
        }
        String num = s.substring(st, i);
        if (s.startsWith("L", i)) {
          i++;
        }
        try {
          dims.add(Long.parseLong(num));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(".npy header shape has a bad dimension: " + snippet());
        }
        skipWs();
        if (peek() == ',') {
          i++;
        }
      }
      return dims.stream().mapToLong(Long::longValue).toArray();
    }

    private String string() {
      skipWs();
      char q = peek();
      if (q != '\'' && q != '"') {
        throw new IllegalArgumentException(".npy header: expected a string at " + snippet());
      }
      int end = s.indexOf(q, i + 1);
      if (end < 0) {
        throw new IllegalArgumentException(".npy header: unterminated string");
      }
      String v = s.substring(i + 1, end);
      i = end + 1;
      return v;
    }

    private void expect(char c) {
      skipWs();
      if (peek() != c) {
        throw new IllegalArgumentException(".npy header: expected '" + c + "' at " + snippet());
      }
      i++;
    }

    private char peek() {
      if (i >= s.length()) {
        throw new IllegalArgumentException(".npy header ends early");
      }
      return s.charAt(i);
    }

    private void skipWs() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
    }

    private String snippet() {
      return "'" + s.substring(i, Math.min(s.length(), i + 20)) + "'";
    }
  }
}
