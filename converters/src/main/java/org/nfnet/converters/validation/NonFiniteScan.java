package org.nfnet.converters.validation;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;

/** Counts NaN and infinite values in float32 data, e.g. right after copying a parameter. */
public final class NonFiniteScan {
  private static final int CHUNK = 1 << 14;
  private static final int EXPONENT = 0x7F800000;

  /** Result: counts and the index of the first non-finite value (-1 when there is none). */
  public record Result(long nanCount, long infCount, long firstIndex) {
    public boolean clean() {
      return nanCount == 0 && infCount == 0;
    }
  }

  private NonFiniteScan() {}

  /**
   * Scans native-order float32 bytes from {@code floats}' position to its limit (a whole number of
   * floats) without moving the position. This is the fast path: the bytes are bulk-copied in
   * chunks of longs, two floats per long, and checked with the carry trick described at
   * {@link #scan(FloatBuffer)} applied to both halves at once.
   */
  public static Result scan(ByteBuffer floats) {
    if (floats.remaining() % 4 != 0) {
      throw new IllegalArgumentException("float32 data of " + floats.remaining() + " bytes");
    }
    ByteBuffer b = floats.slice().order(ByteOrder.nativeOrder());
    LongBuffer longs = b.asLongBuffer();
    long[] chunk = new long[CHUNK];
    int n = longs.remaining();
    for (int base = 0; base < n; base += CHUNK) {
      int len = Math.min(CHUNK, n - base);
      longs.get(base, chunk, 0, len);
      long acc = 0;
      for (int i = 0; i < len; i++) {
        acc |= (chunk[i] & 0x7F8000007F800000L) + 0x0080000000800000L;
      }
      if ((acc & 0x8000000080000000L) != 0) {
        return scan(b.asFloatBuffer()); // rare: count precisely
      }
    }
    if (b.remaining() % 8 != 0) {
      float last = b.getFloat(b.remaining() - 4);
      if (!Float.isFinite(last)) {
        return new Result(Float.isNaN(last) ? 1 : 0, Float.isNaN(last) ? 0 : 1, b.remaining() / 4 - 1);
      }
    }
    return new Result(0, 0, -1);
  }

  /**
   * Scans {@code floats} from its position to its limit without moving the position. Works on the
   * raw bits in chunks: a float is NaN or infinite exactly when its exponent bits are all ones,
   * and {@code (bits & 0x7F800000) + 0x00800000} then (and only then) carries into the sign bit,
   * so a whole chunk is checked with a branch-free OR that the JIT vectorises; only a chunk that
   * has a hit is looked at value by value.
   */
  public static Result scan(FloatBuffer floats) {
    float[] chunk = new float[CHUNK];
    long nan = 0;
    long inf = 0;
    long first = -1;
    int n = floats.remaining();
    for (int base = 0; base < n; base += CHUNK) {
      int len = Math.min(CHUNK, n - base);
      floats.get(floats.position() + base, chunk, 0, len); // bulk copy, L2-resident chunk
      int acc = 0;
      for (int i = 0; i < len; i++) {
        acc |= (Float.floatToRawIntBits(chunk[i]) & EXPONENT) + 0x00800000;
      }
      if (acc >= 0) {
        continue;
      }
      for (int i = 0; i < len; i++) {
        if ((Float.floatToRawIntBits(chunk[i]) & EXPONENT) == EXPONENT) {
          if (Float.isNaN(chunk[i])) {
            nan++;
          } else {
            inf++;
          }
          if (first < 0) {
            first = base + i;
          }
        }
      }
    }
    return new Result(nan, inf, first);
  }
}
