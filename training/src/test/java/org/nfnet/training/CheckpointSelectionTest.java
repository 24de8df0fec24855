package org.nfnet.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14: resume picks the newest intact checkpoint; a failed save names its real reason. */
class CheckpointSelectionTest {
  @TempDir Path dir;

  /** A checkpoint directory as {@link Checkpoints#save} writes it (sizes recorded). */
  private Path checkpoint(long step, int dataBytes) throws Exception {
    Path c = Files.createDirectories(dir.resolve(String.format("ckpt-%010d", step)));
    Files.write(c.resolve("variables.index"), new byte[10]);
    Files.write(c.resolve("variables.data-00000-of-00001"), new byte[dataBytes]);
    Files.writeString(c.resolve(Checkpoints.META), "{\"step\": " + step + ", \"num_classes\": 10, "
        + "\"files\": {\"variables.index\": 10, \"variables.data-00000-of-00001\": " + dataBytes + "}}");
    return c;
  }

  @Test
  void truncatedOrPartlyDeletedNewestIsSkippedWithTheReason() throws Exception {
    Path a = checkpoint(3, 100);
    Path b = checkpoint(6, 100);
    Path c = checkpoint(9, 100);
    Files.write(c.resolve("variables.data-00000-of-00001"), new byte[50]); // truncated
    Files.delete(b.resolve("variables.index")); // partly deleted
    Checkpoints.Selection s = new Checkpoints(dir, 3).newestIntact();
    assertEquals(Optional.of(a), s.checkpoint());
    assertEquals(2, s.skipped().size());
    assertTrue(s.skipped().get(0).startsWith(c + ": variables.data-00000-of-00001 has 50 bytes, 100 "
        + "were saved (truncated)"), s.skipped().toString());
    assertEquals(b + ": variables.index is missing", s.skipped().get(1));
  }

  @Test
  void noIntactCheckpointSelectsNothing() throws Exception {
    Path a = checkpoint(3, 100);
    Files.writeString(a.resolve(Checkpoints.META), "{\"step\": ");
    Checkpoints.Selection s = new Checkpoints(dir, 3).newestIntact();
    assertFalse(s.checkpoint().isPresent());
    assertTrue(s.skipped().get(0).contains("checkpoint.json unreadable"), s.skipped().toString());
  }

  @Test
  void diskFullIsReportedWithoutTheOomHint() {
    RuntimeException tf = new org.tensorflow.exceptions.TFResourceExhaustedException(
        "/run/checkpoints/.tmp-ckpt-6/variables_temp/part-00000-of-00001.data-00000-of-00001.tempstate1; "
        + "No space left on device\n\t [[{{node save/SaveV2}}]]\n"
        + "Hint: If you want to see a list of allocated tensors when OOM happens, add "
        + "report_tensor_allocations_upon_oom to RunOptions for current allocation info.");
    String m = Checkpoints.writeFailure(tf);
    assertEquals("no space left on device (free space, then continue with --resume)", m);
    assertEquals("boom [[x]]", Checkpoints.writeFailure(new RuntimeException("boom\n [[x]]\nHint: OOM")));
  }
}
