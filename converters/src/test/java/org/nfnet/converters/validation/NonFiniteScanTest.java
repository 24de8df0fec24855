package org.nfnet.converters.validation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class NonFiniteScanTest {
  static ByteBuffer floats(int n, boolean direct) {
    ByteBuffer b = (direct ? ByteBuffer.allocateDirect(n * 4) : ByteBuffer.allocate(n * 4))
        .order(ByteOrder.nativeOrder());
    for (int i = 0; i < n; i++) {
      b.putFloat(i, i * 0.5f - 1000f);
    }
    return b;
  }

  @Test
  void cleanDataAndLargestFiniteValues() {
    ByteBuffer b = floats(100_001, true);
    b.putFloat(4 * 7, Float.MAX_VALUE);
    b.putFloat(4 * 8, -Float.MAX_VALUE);
    b.putFloat(4 * 9, Float.MIN_VALUE);
    assertEquals(new NonFiniteScan.Result(0, 0, -1), NonFiniteScan.scan(b));
    assertEquals(new NonFiniteScan.Result(0, 0, -1), NonFiniteScan.scan(b.asFloatBuffer()));
  }

  @Test
  void countsNaNAndInfAndTheFirstIndexIncludingAnOddTail() {
    ByteBuffer b = floats(40_001, false);
    b.putFloat(4 * 40_000, Float.NEGATIVE_INFINITY); // last float, outside the long-pair loop
    assertEquals(new NonFiniteScan.Result(0, 1, 40_000), NonFiniteScan.scan(b));
    b.putFloat(4 * 33_333, Float.intBitsToFloat(0x7FC00001)); // a NaN payload
    b.putFloat(4 * 20_000, Float.NaN);
    b.putFloat(4 * 39_999, Float.POSITIVE_INFINITY);
    assertEquals(new NonFiniteScan.Result(2, 2, 20_000), NonFiniteScan.scan(b));
    assertEquals(new NonFiniteScan.Result(2, 2, 20_000), NonFiniteScan.scan(b.asFloatBuffer()));
    b.position(4 * 30_000);
    assertEquals(new NonFiniteScan.Result(1, 2, 3_333), NonFiniteScan.scan(b)); // from the position
  }
}
