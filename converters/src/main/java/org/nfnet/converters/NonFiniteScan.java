package org.nfnet.converters;

import java.nio.FloatBuffer;

/** Counts NaN and infinite values in float32 data, e.g. right after copying a parameter. */
public final class NonFiniteScan {
  /** Result: counts and the index of the first non-finite value (-1 when there is none). */
  public record Result(long nanCount, long infCount, long firstIndex) {
    public boolean clean() {
      return nanCount == 0 && infCount == 0;
    }
  }

  private NonFiniteScan() {}

  /** Scans {@code floats} from its position to its limit without moving the position. */
  public static Result scan(FloatBuffer floats) {
    long nan = 0;
    long inf = 0;
    long first = -1;
    int start = floats.position();
    int end = floats.limit();
    for (int i = start; i < end; i++) {
      float v = floats.get(i);
      // exponent bits all set <=> NaN or +-Inf; one integer test keeps the loop cheap
      if ((Float.floatToRawIntBits(v) & 0x7F800000) == 0x7F800000) {
        if (Float.isNaN(v)) {
          nan++;
        } else {
          inf++;
        }
        if (first < 0) {
          first = i - start;
        }
      }
    }
    return new Result(nan, inf, first);
  }
}
