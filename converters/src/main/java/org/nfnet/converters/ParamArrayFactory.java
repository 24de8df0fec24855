package org.nfnet.converters;

import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.converters.payload.Payload;

/**
 * Checks one array description from either format and turns it into a {@link ParamArray}: dims
 * non-negative, element count without overflow, byte count equal to the data present, supported
 * dtype. Collects the dtype-conversion warnings and refuses duplicate keys. The format readers
 * ({@code pickle}, {@code npz} sub-packages) end with {@link #toParams}; applications read files
 * through {@link WeightFileReader}.
 */
public final class ParamArrayFactory {
  private final Path file;
  private final Map<String, ParamArray> params = new LinkedHashMap<>();
  private final Map<DType, List<String>> converted = new EnumMap<>(DType.class);
  private final List<String> bigEndian = new ArrayList<>();

  public ParamArrayFactory(Path file) {
    this.file = file;
  }

  /** Adds one array; {@code orderOverride} is the byte order when the format gives it apart from the dtype. */
  public void add(String module, String name, long[] shape, String dtypeDescr, ByteOrder orderOverride,
      boolean fortranOrder, Payload payload, long offset) {
    String key = module + "/" + name;
    String what = "parameter '" + key + "'";
    DType.Parsed dt;
    try {
      dt = DType.parse(dtypeDescr, what);
    } catch (IllegalArgumentException e) {
      throw new WeightFileException(file, offset, e.getMessage());
    }
    ByteOrder order = orderOverride != null ? orderOverride : dt.order();
    long elements = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new WeightFileException(file, offset, what + " declares a negative dimension in shape "
            + java.util.Arrays.toString(shape));
      }
      try {
        elements = Math.multiplyExact(elements, d);
      } catch (ArithmeticException e) {
        throw new WeightFileException(file, offset, what + " declares shape "
            + java.util.Arrays.toString(shape) + " whose element count overflows 64 bits");
      }
    }
    if (fortranOrder && nonTrivialDims(shape) > 1) {
      throw new WeightFileException(file, offset, what + " is stored in Fortran (column-major) order;"
          + " only C-order arrays are supported");
    }
    long expectedBytes;
    try {
      expectedBytes = Math.multiplyExact(elements, (long) dt.type().itemSize());
    } catch (ArithmeticException e) {
      expectedBytes = Long.MAX_VALUE;
    }
    if (expectedBytes != payload.length()) {
      throw new WeightFileException(file, offset, what + " declares shape "
          + java.util.Arrays.toString(shape) + " of " + dt.type().pythonName() + " = " + elements
          + " elements = " + (expectedBytes == Long.MAX_VALUE ? "more than 2^63" : expectedBytes)
          + " bytes, but its data has " + payload.length() + " bytes");
    }
    if (elements * 4 > Integer.MAX_VALUE - 8) {
      throw new WeightFileException(file, offset, what + " has " + elements
          + " elements; arrays over 2 GB as float32 are not supported");
    }
    if (params.containsKey(key)) {
      throw new WeightFileException(file, offset, what + " appears twice");
    }
    if (dt.type() != DType.FLOAT32) {
      converted.computeIfAbsent(dt.type(), t -> new ArrayList<>()).add(key);
    }
    if (order == ByteOrder.BIG_ENDIAN) {
      bigEndian.add(key);
    }
    params.put(key, new ParamArray(module, name, shape, elements, dt.type(), order, payload));
  }

  private static int nonTrivialDims(long[] shape) {
    int n = 0;
    for (long d : shape) {
      if (d > 1) {
        n++;
      }
    }
    return n;
  }

  /**
   * The parameters read so far, holding {@code channel} (closed with the result).
   *
   * @param protocol pickle protocol, or .npy major version
   * @param layout the byte layout seen (for {@code inspect})
   */
  public HaikuParams toParams(WeightFormat format, int protocol, Map<String, Integer> globals,
      String topLevelType, java.nio.channels.FileChannel channel, String layout) {
    return new HaikuParams(file, format, protocol, globals, topLevelType, params, warnings(), channel, layout);
  }

  Map<String, ParamArray> params() {
    return params;
  }

  List<String> warnings() {
    List<String> w = new ArrayList<>();
    converted.forEach((t, keys) -> w.add(keys.size() + " parameter(s) stored as " + t.pythonName()
        + " are converted to float32 (first: " + keys.get(0) + ")"
        + (t == DType.FLOAT64 ? "; values lose precision beyond float32" : "")));
    if (!bigEndian.isEmpty()) {
      w.add(bigEndian.size() + " parameter(s) stored big-endian are byte-swapped (first: "
          + bigEndian.get(0) + ")");
    }
    return w;
  }
}
