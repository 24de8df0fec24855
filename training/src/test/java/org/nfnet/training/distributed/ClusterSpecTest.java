package org.nfnet.training.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.ServerDef;
import org.tensorflow.types.TFloat32;

class ClusterSpecTest {

  @Test
  void parsesAndBuildsProtos() {
    ClusterSpec c = ClusterSpec.parse(" 10.0.0.1:2222, host-b:2223 ,[::1]:2224", 1);
    assertEquals(List.of("10.0.0.1:2222", "host-b:2223", "[::1]:2224"), c.workers());
    assertEquals(3, c.numTasks());
    assertEquals(2223, c.localPort());
    assertFalse(c.isChief());
    assertEquals("/job:worker/replica:0/task:0", c.groupLeader());
    assertEquals("/job:worker/replica:0/task:1/device:CPU:0", c.localCpu().toString());

    ServerDef sd = c.toServerDef(c.sessionConfig(ConfigProto.newBuilder()
        .setInterOpParallelismThreads(3).build()));
    assertEquals("worker", sd.getJobName());
    assertEquals(1, sd.getTaskIndex());
    assertEquals("grpc", sd.getProtocol());
    assertEquals("[::1]:2224", sd.getCluster().getJob(0).getTasksMap().get(2));
    ConfigProto cfg = sd.getDefaultSessionConfig();
    assertEquals(3, cfg.getInterOpParallelismThreads());
    assertEquals("/job:worker/replica:0/task:0", cfg.getExperimental().getCollectiveGroupLeader());
    assertEquals(List.of("/job:worker/task:1"), cfg.getDeviceFiltersList());
  }

  @Test
  void rejectsBadInput() {
    for (String bad : new String[] {"", " ", "a:1,", "a", "a:", ":1", "a:0", "a:70000", "a:x",
        "a:1,a:1", "::1:5", "a b:1"}) {
      assertThrows(IllegalArgumentException.class, () -> ClusterSpec.parse(bad, 0), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> ClusterSpec.parse("a:1,b:2", 2));
    assertThrows(IllegalArgumentException.class, () -> ClusterSpec.parse("a:1,b:2", -1));
    assertTrue(ClusterSpec.parse("a:1", 0).isChief());
  }

  @Test
  void targetedSessionWithEmptyTargetIsALocalSession() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var v = tf.variable(tf.constant(new float[] {1, 2}));
      var out = tf.math.mul(v, tf.constant(3f));
      try (Session s = TargetedSession.open(g, "", LocalDevices.virtualCpuConfig(1, null))) {
        s.initialize();
        try (Result r = s.runner().fetch(out).run()) {
          assertArrayEquals(new float[] {3, 6}, LocalDevicesTest.read((TFloat32) r.get(0)), 0f);
        }
      }
    }
  }

  @Test
  void classifiesFailures() {
    ClusterSpec c = ClusterSpec.parse("127.0.0.1:1000,127.0.0.1:1001", 0);
    RuntimeException lost = PeerFailureException.classify(c, new RuntimeException(
        "Collective ops is aborted by: Connection reset by peer\nAdditional GRPC error information"
            + " from remote target /job:worker/replica:0/task:1 while calling RecvBuf"));
    assertTrue(lost instanceof PeerFailureException, lost.toString());
    assertEquals(PeerFailureException.Kind.PEER_UNREACHABLE, ((PeerFailureException) lost).kind());
    assertEquals(1, ((PeerFailureException) lost).peerTask().orElseThrow());
    assertTrue(lost.getMessage().contains("peer task 1 (127.0.0.1:1001)"), lost.getMessage());

    RuntimeException slow = PeerFailureException.classify(c,
        new RuntimeException("Collective has timed out waiting for other workers."));
    assertEquals(PeerFailureException.Kind.TIMEOUT, ((PeerFailureException) slow).kind());

    RuntimeException other = new IllegalArgumentException("shape mismatch");
    assertTrue(other == PeerFailureException.classify(c, other));
  }
}
