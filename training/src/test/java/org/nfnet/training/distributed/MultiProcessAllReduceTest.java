package org.nfnet.training.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two worker JVMs on loopback (tests 6a, 6c, 6d). Each worker hosts its own TF gRPC server, which
 * cannot be shut down, hence child processes.
 */
class MultiProcessAllReduceTest {

  private static final long START_MS = 60_000;

  @Test
  @Timeout(120)
  void twoProcessesHoldExactSum() throws Exception {
    String cluster = ChildJvm.loopbackCluster(2);
    try (ChildJvm w0 = new ChildJvm("allreduce", cluster, "0");
        ChildJvm w1 = new ChildJvm("allreduce", cluster, "1")) {
      // Task t contributes (t+1)(k+1) [+0.5k]: sums 3(k+1) [+k]; plain then packed, two steps.
      String expected =
          " [3.0,6.0,9.0,12.0,15.0,18.0] [3.0,7.0,11.0,15.0,19.0]"
              + " [3.0,6.0,9.0,12.0,15.0,18.0] [3.0,7.0,11.0,15.0,19.0]";
      for (ChildJvm w : new ChildJvm[] {w0, w1}) {
        assertEquals("RESULT step=0" + expected, w.await(START_MS, "RESULT"));
        assertEquals("RESULT step=1" + expected, w.await(30_000, "RESULT"));
      }
    }
  }

  @Test
  @Timeout(120)
  void killedPeerFailsSurvivorQuicklyAndNamesIt() throws Exception {
    String cluster = ChildJvm.loopbackCluster(2);
    float collectiveTimeout = 10;
    try (ChildJvm w0 = new ChildJvm("fail", cluster, "0", String.valueOf(collectiveTimeout));
        ChildJvm w1 = new ChildJvm("fail", cluster, "1", String.valueOf(collectiveTimeout))) {
      w0.await(START_MS, "STEPPING");
      w1.await(START_MS, "STEPPING");
      Thread.sleep(300);
      long killed = System.nanoTime();
      w1.kill();
      String failed = w0.await(30_000, "FAILED");
      long ms = (System.nanoTime() - killed) / 1_000_000;
      assertTrue(ms < (collectiveTimeout + 5) * 1000, "took " + ms + " ms: " + failed);
      assertTrue(failed.contains("type=PeerFailureException"), failed);
      assertTrue(failed.contains("task 1") || failed.contains("timed out"), failed);
    }
  }

  @Test
  @Timeout(120)
  void stuckPeerTimesOutWithClearMessage() throws Exception {
    String cluster = ChildJvm.loopbackCluster(2);
    try (ChildJvm w1 = new ChildJvm("idle", cluster, "1");
        ChildJvm w0 = new ChildJvm("fail", cluster, "0", "3")) {
      w1.await(START_MS, "STEPPING");
      String failed = w0.await(START_MS, "FAILED");
      assertTrue(failed.startsWith("FAILED step=0 "), failed);
      long ms = Long.parseLong(failed.replaceAll(".* ms=(\\d+) .*", "$1"));
      assertTrue(ms >= 2_500 && ms < 15_000, "step failed after " + ms + " ms: " + failed);
      assertTrue(failed.contains("type=PeerFailureException"), failed);
      assertTrue(failed.contains("timed out waiting for peers"), failed);
    }
  }

  @Test
  @Timeout(120)
  void dataParallelSgdMatchesSingleProcessWithDoubleBatch() throws Exception {
    float[] single = DataParallelSgd.runSingle(2);
    String cluster = ChildJvm.loopbackCluster(2);
    try (ChildJvm w0 = new ChildJvm("sgd", cluster, "0", "0");
        ChildJvm w1 = new ChildJvm("sgd", cluster, "1", "0")) {
      for (ChildJvm w : new ChildJvm[] {w0, w1}) {
        String[] parts = w.await(START_MS, "RESULT").split(" ");
        assertEquals(single.length + 1, parts.length);
        for (int i = 0; i < single.length; i++) {
          float v = Float.parseFloat(parts[i + 1]);
          assertEquals(single[i], v, 1e-5 * Math.max(1, Math.abs(single[i])),
              "parameter " + i + ": " + String.join(" ", parts));
        }
      }
      // The model moved away from zero (the test is not vacuous).
      assertTrue(Math.abs(single[3]) > 0.1, java.util.Arrays.toString(single));
    }
  }
}
