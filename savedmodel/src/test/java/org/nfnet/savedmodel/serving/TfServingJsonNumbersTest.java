package org.nfnet.savedmodel.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * JSON numbers for float inputs are read as TF Serving reads them: rapidjson's {@code GetFloat()},
 * which is the number parsed as a double, then cast to float.
 */
class TfServingJsonNumbersTest {
  static float[] numbers(String instances) throws Exception {
    byte[] body = ("{\"instances\": " + instances + "}").getBytes(StandardCharsets.UTF_8);
    return TfServingJson.parsePredict(new ByteArrayInputStream(body)).inputs().get(TfServingJson.UNNAMED).numbers();
  }

  @Test
  void aDecimalNextToAFloatMidpointRoundsTwiceAsInTfServing() throws Exception {
    // 1.0000001788139343 lies 2.6e-17 below 1 + 3 * 2^-24, the midpoint of the floats 1 + 2^-23 and
    // 1 + 2^-22, closer than half a double ulp (1.1e-16): as a double it is the midpoint exactly,
    // and the cast to float rounds the tie to the even significand, 1 + 2^-22. Read directly as a
    // float it would be 1 + 2^-23 (it is below the midpoint).
    float twoRoundings = (float) (1 + Math.scalb(1.0, -22));
    assertArrayEquals(new float[] {twoRoundings, 0.1f, -2.5f, 3f},
        numbers("[1.0000001788139343, 0.1, -2.5e0, 3]"));
  }

  @Test
  void shortestFloatDecimalsReadBackExactly() throws Exception {
    float[] v = {1.17549435E-38f, 3.4028235E38f, 1.4E-45f, -0.0f, 0.33333334f, 123456.79f};
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < v.length; i++) {
      sb.append(i > 0 ? "," : "").append(v[i]);
    }
    assertArrayEquals(v, numbers(sb.append("]").toString()));
  }
}
