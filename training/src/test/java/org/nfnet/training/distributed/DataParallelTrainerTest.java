package org.nfnet.training.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.training.Checkpoints;

/**
 * Issue 7 check (c): the {@link org.nfnet.training.Trainer} with {@code --cluster} on two worker
 * JVMs. Killing worker 1 fails worker 0 quickly with a {@link PeerFailureException}; restarting
 * both from the chief's last checkpoint continues the run (same global steps, same losses).
 */
class DataParallelTrainerTest {
  static final long STEPS = 12;
  static final int EVERY = 3;

  @Test
  @Timeout(420)
  void killedWorkerFailsPeerFastAndBothResumeFromTheCheckpoint(@TempDir Path dir)
      throws Exception {
    String t0 = DpFixtures.t0Json().toString();
    Path out = dir.resolve("run");
    Map<Long, Double> firstLosses = new TreeMap<>();
    long failMs;
    String failed;
    String cluster = ChildJvm.loopbackCluster(2);
    // 400 ms pause per step (in the listener) so the kill lands mid-run.
    try (ChildJvm w0 = new ChildJvm("dptrainer", cluster, "0", t0, out.toString(),
            String.valueOf(STEPS), String.valueOf(EVERY), "400");
        ChildJvm w1 = new ChildJvm("dptrainer", cluster, "1", t0, out.toString(),
            String.valueOf(STEPS), String.valueOf(EVERY), "400")) {
      w0.await(240_000, "CKPT " + EVERY);
      w1.await(60_000, "STEP " + EVERY);
      long killed = System.nanoTime();
      w1.kill();
      failed = w0.await(60_000, "FAILED", "RESULT");
      failMs = (System.nanoTime() - killed) / 1_000_000;
      collect(w0.seen(), firstLosses);
    }
    System.out.printf(Locale.ROOT, "worker 0 failed %d ms after worker 1 was killed: %s%n",
        failMs, failed);
    assertTrue(failed.startsWith("FAILED type=PeerFailureException"), failed);
    assertTrue(failed.contains("lost peer task 1") || failed.contains("timed out"), failed);
    assertTrue(failMs < 20_000, "failure detected after " + failMs + " ms");
    long ckpt = Checkpoints.meta(new Checkpoints(out.resolve("checkpoints"), 3).latest()
        .orElseThrow()).step();
    assertTrue(ckpt >= EVERY && ckpt < STEPS, "last checkpoint at " + ckpt);
    assertFalse(Files.exists(out.resolve("checkpoints").resolve(String.format("ckpt-%010d",
        STEPS))));

    // Restart both (new ports) from the chief's last checkpoint.
    cluster = ChildJvm.loopbackCluster(2);
    Map<Long, Double> second0 = new TreeMap<>();
    Map<Long, Double> second1 = new TreeMap<>();
    try (ChildJvm w0 = new ChildJvm("dptrainer", cluster, "0", t0, out.toString(),
            String.valueOf(STEPS), String.valueOf(EVERY), "0");
        ChildJvm w1 = new ChildJvm("dptrainer", cluster, "1", t0, out.toString(),
            String.valueOf(STEPS), String.valueOf(EVERY), "0")) {
      String r0 = w0.await(240_000, "RESULT", "FAILED");
      String r1 = w1.await(60_000, "RESULT", "FAILED");
      assertTrue(r0.startsWith("RESULT COMPLETED " + STEPS + " evals=1"), r0);
      assertTrue(r1.startsWith("RESULT COMPLETED " + STEPS + " evals=0"), "only the chief evaluates: " + r1);
      collect(w0.seen(), second0);
      collect(w1.seen(), second1);
    }
    System.out.printf(Locale.ROOT, "first run losses %s%nresumed at step %d: %s%n", firstLosses,
        ckpt, second0);
    assertEquals(ckpt, second0.keySet().iterator().next(), "resumed at the checkpoint's step");
    assertEquals(STEPS - ckpt, second0.size());
    assertEquals(second0, second1, "both workers report the same all-reduced losses");
    int overlap = 0;
    for (var e : second0.entrySet()) {
      Double before = firstLosses.get(e.getKey());
      if (before != null) {
        overlap++;
        assertEquals(before, e.getValue(), 1e-5 * Math.abs(before),
            "step " + e.getKey() + " repeats the lost step's loss");
      }
    }
    assertTrue(overlap >= 1, "steps after the checkpoint were run before the kill");
    assertEquals(STEPS, Checkpoints.meta(new Checkpoints(out.resolve("checkpoints"), 3).latest()
        .orElseThrow()).step());
    // Curves are the CLI's now; the chief writes the TensorBoard logs.
    try (var events = Files.list(out.resolve("tensorboard"))) {
      assertTrue(events.anyMatch(f -> f.getFileName().toString().startsWith("events.out.tfevents")),
          "the chief writes the TensorBoard logs");
    }
  }

  private static void collect(List<String> lines, Map<Long, Double> losses) {
    for (String l : lines) {
      if (l.startsWith("STEP ")) {
        String[] p = l.split(" ");
        losses.put(Long.parseLong(p[1]), Double.parseDouble(p[2]));
      }
    }
  }
}
