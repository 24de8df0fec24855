package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.cli.Main;
import org.nfnet.testing.SharedFixtures;

/**
 * The user-facing import path end to end: {@code nfnet convert} on DeepMind's release-format T0
 * files (pickle protocols 3 and 4), then {@code nfnet logits} on the SavedModel, against DeepMind's
 * logits within 2e-5 of max |ref|.
 */
class ConvertCliParityTest {
  @TempDir Path tmp;

  @Test
  void convertedFixturesReproduceDeepMindLogitsThroughTheCli() throws Exception {
    JsonNode cases = SharedFixtures.reference().get("cases");
    for (JsonNode c : cases) {
      String weights = c.get("weights").asText();
      Path model = tmp.resolve(weights.replace(".pkl", ""));
      assertEquals(0, Main.run("convert", "--weights", SharedFixtures.t0().resolve(weights).toString(),
          "--variant", SharedFixtures.t0VariantFile().toString(), "--out", model.toString()));
      assertTrue(Files.isRegularFile(model.resolve("saved_model.pb")));
      int n = c.get("batch").asInt();
      int res = c.get("res").asInt();
      Path out = tmp.resolve(weights + ".logits.f32");
      assertEquals(0, Main.run("logits", "--model", model.toString(), "--input",
          SharedFixtures.t0().resolve(c.get("input").asText()).toString(), "--shape",
          n + "," + res + "," + res + ",3", "--out", out.toString()));
      ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
      float[] logits = new float[n * 10];
      b.asFloatBuffer().get(logits);
      double err = SharedFixtures.relativeMaxError(c.get("logits"), logits, 10);
      assertTrue(err <= T0ParityTest.TOLERANCE, weights + " @" + res + ": off by " + err);
    }
  }

  @Test
  void convertRefusesToOverwriteAndLeavesNothingOnFailure() throws Exception {
    Path model = tmp.resolve("m");
    Path weights = SharedFixtures.t0().resolve("t0_seed5_p3.pkl");
    String variant = SharedFixtures.t0VariantFile().toString();
    assertEquals(0, Main.run("convert", "--weights", weights.toString(), "--variant", variant, "--out", model.toString()));
    long before = Files.getLastModifiedTime(model.resolve("saved_model.pb")).toMillis();
    assertEquals(2, Main.run("convert", "--weights", weights.toString(), "--variant", variant, "--out", model.toString()));
    assertEquals(before, Files.getLastModifiedTime(model.resolve("saved_model.pb")).toMillis());

    // A truncated file fails validation and leaves no output directory (and no temp dir) behind.
    Path truncated = tmp.resolve("truncated.pkl");
    byte[] all = Files.readAllBytes(weights);
    Files.write(truncated, java.util.Arrays.copyOf(all, all.length / 2));
    Path failed = tmp.resolve("failed");
    assertEquals(2, Main.run("convert", "--weights", truncated.toString(), "--variant", variant, "--out", failed.toString()));
    assertFalse(Files.exists(failed));
    try (var files = Files.list(tmp)) {
      assertEquals(0, files.filter(p -> p.getFileName().toString().contains("failed")).count());
    }
    // Wrong variant: F0 does not fit T0's weights.
    assertEquals(2, Main.run("convert", "--weights", weights.toString(), "--variant", "F0", "--out", failed.toString()));
    assertFalse(Files.exists(failed));
  }
}
