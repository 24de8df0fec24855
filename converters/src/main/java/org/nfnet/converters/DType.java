package org.nfnet.converters;

import java.nio.ByteOrder;
import java.util.Locale;

/**
 * The element types a weight array may be stored in. Everything is handed to TensorFlow as
 * float32; the other floating types are converted on copy (and the read result carries a warning),
 * anything else (ints, complex, objects, structured types) is refused by {@link #parse}.
 */
public enum DType {
  FLOAT32(4, "float32"),
  FLOAT16(2, "float16"),
  BFLOAT16(2, "bfloat16"),
  FLOAT64(8, "float64");

  private final int itemSize;
  private final String pythonName;

  DType(int itemSize, String pythonName) {
    this.itemSize = itemSize;
    this.pythonName = pythonName;
  }

  public int itemSize() {
    return itemSize;
  }

  public String pythonName() {
    return pythonName;
  }

  /** A numpy type code with its byte order, e.g. {@code <f4}, {@code >f8}, {@code float16}. */
  public record Parsed(DType type, ByteOrder order) {}

  /**
   * Parses a numpy dtype string ({@code descr} of an .npy header or the first argument of a pickled
   * {@code numpy.dtype}). A missing or {@code '='} / {@code '|'} byte-order mark means little-endian:
   * numpy writes {@code '<'} explicitly for little-endian data and every producer of these files
   * was little-endian.
   *
   * @param what names the parameter in the error message
   * @throws IllegalArgumentException for any type that is not a supported float type
   */
  public static Parsed parse(String descr, String what) {
    String s = descr.trim();
    ByteOrder order = ByteOrder.LITTLE_ENDIAN;
    if (!s.isEmpty() && "<>=|".indexOf(s.charAt(0)) >= 0) {
      if (s.charAt(0) == '>') {
        order = ByteOrder.BIG_ENDIAN;
      }
      s = s.substring(1);
    }
    DType t = switch (s.toLowerCase(Locale.ROOT)) {
      case "f4", "float32", "f" -> FLOAT32;
      case "f2", "float16", "e" -> FLOAT16;
      case "f8", "float64", "d" -> FLOAT64;
      case "bfloat16", "bf16" -> BFLOAT16;
      default -> null;
    };
    if (t == null) {
      throw new IllegalArgumentException(what + " has dtype '" + descr
          + "'; only float32, float16, bfloat16 and float64 weights are supported");
    }
    return new Parsed(t, order);
  }

  /** The byte order for a numpy byte-order character from a pickled dtype's state. */
  public static ByteOrder orderOf(char c, ByteOrder ifUnspecified) {
    return switch (c) {
      case '>' -> ByteOrder.BIG_ENDIAN;
      case '<' -> ByteOrder.LITTLE_ENDIAN;
      default -> ifUnspecified; // '|' (not applicable) and '=' (native of the writer, little-endian)
    };
  }
}
