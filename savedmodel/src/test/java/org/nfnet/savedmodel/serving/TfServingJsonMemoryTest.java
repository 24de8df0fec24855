package org.nfnet.savedmodel.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Issue 14: 8 concurrent 32 MB JSON bodies held 4.3 GB because each became a JsonNode tree. The
 * codec streams into primitive arrays: parsing a 32 MB body of pixel values allocates a small
 * multiple of its size (a tree of the same body allocates over 10x).
 */
class TfServingJsonMemoryTest {
  @Test
  void a32MbBodyIsParsedWithinThreeTimesItsSize() throws Exception {
    java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    assumeTrue(mx instanceof com.sun.management.ThreadMXBean);
    com.sun.management.ThreadMXBean bean = (com.sun.management.ThreadMXBean) mx;
    int side = 1630; // 1630 x 1630 x 3 values of "255," -> ~32 MB
    StringBuilder sb = new StringBuilder(33 << 20).append("{\"instances\": [[");
    for (int y = 0; y < side; y++) {
      sb.append(y > 0 ? "," : "").append("[");
      for (int x = 0; x < side; x++) {
        sb.append(x > 0 ? "," : "").append("[255,128,7]");
      }
      sb.append("]");
    }
    byte[] body = sb.append("]]}").toString().getBytes(StandardCharsets.US_ASCII);
    sb = null;
    long tid = Thread.currentThread().getId();
    long before = bean.getThreadAllocatedBytes(tid);
    TfServingJson.PredictRequest r = TfServingJson.parsePredict(new ByteArrayInputStream(body));
    long allocated = bean.getThreadAllocatedBytes(tid) - before;
    assertArrayEquals(new long[] {1, side, side, 3}, r.inputs().get(TfServingJson.UNNAMED).shape());
    assertTrue(allocated < 3L * body.length, "parsing " + body.length + " bytes allocated " + allocated);
  }
}
