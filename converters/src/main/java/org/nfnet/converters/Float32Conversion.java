package org.nfnet.converters;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nfnet.converters.payload.Payload;

/**
 * Turns raw array bytes of any supported {@link DType} and byte order into native-order float32,
 * written into a destination buffer. The raw bytes arrive in chunks of arbitrary length; up to
 * seven bytes of a split element are carried over to the next chunk.
 */
final class Float32Conversion implements Payload.ChunkConsumer {
  private final DType type;
  private final ByteOrder order;
  private final ByteBuffer dst;
  private final ByteBuffer carry;

  private Float32Conversion(DType type, ByteOrder order, ByteBuffer dst) {
    this.type = type;
    this.order = order;
    this.dst = dst;
    this.carry = ByteBuffer.allocate(8).order(order);
  }

  /** Copies {@code payload} into {@code dst} (native order), converting from {@code type/order}. */
  static void copy(Payload payload, DType type, ByteOrder order, ByteBuffer dst) throws IOException {
    ByteOrder dstOrder = dst.order();
    dst.order(ByteOrder.nativeOrder());
    try {
      if (type == DType.FLOAT32 && order == ByteOrder.nativeOrder()) {
        payload.copyTo(dst); // the common case: one positional read straight into dst
        return;
      }
      Float32Conversion c = new Float32Conversion(type, order, dst);
      payload.forEachChunk(c);
      if (c.carry.position() != 0) {
        throw new IOException("array data ends inside an element");
      }
    } finally {
      dst.order(dstOrder);
    }
  }

  @Override
  public void accept(ByteBuffer chunk) {
    ByteBuffer in = chunk.duplicate().order(order);
    int size = type.itemSize();
    while (carry.position() > 0 && in.hasRemaining()) {
      carry.put(in.get());
      if (carry.position() == size) {
        carry.flip();
        convertOne(carry);
        carry.clear();
      }
    }
    while (in.remaining() >= size) {
      convertOne(in);
    }
    while (in.hasRemaining()) {
      carry.put(in.get());
    }
  }

  private void convertOne(ByteBuffer in) {
    switch (type) {
      case FLOAT32 -> dst.putFloat(in.getFloat());
      case FLOAT64 -> dst.putFloat((float) in.getDouble());
      case FLOAT16 -> dst.putFloat(Float16.toFloat(in.getShort()));
      case BFLOAT16 -> dst.putFloat(Float.intBitsToFloat((in.getShort() & 0xFFFF) << 16));
    }
  }

  /** IEEE 754 binary16 -> float, exact (every half value is representable as a float). */
  static final class Float16 {
    private Float16() {}

    static float toFloat(short h) {
      int bits = h & 0xFFFF;
      int sign = (bits & 0x8000) << 16;
      int exp = (bits >>> 10) & 0x1F;
      int mant = bits & 0x3FF;
      if (exp == 0x1F) {
        return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13)); // Inf / NaN
      }
      if (exp == 0) {
        float v = mant * 0x1p-24f; // subnormal (or zero)
        return sign != 0 ? -v : v;
      }
      return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }
  }
}
