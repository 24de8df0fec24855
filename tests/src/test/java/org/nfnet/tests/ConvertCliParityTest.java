package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nfnet.cli.Main;
import org.nfnet.testing.SharedFixtures;

/**
 * The user-facing import path end to end: {@code nfnet convert} on DeepMind's release-format T0
 * files (plain layout, pickle protocols 3 and 4; DeepMind's release layout), then {@code nfnet logits} on the SavedModel, against DeepMind's
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
      // Variables (the default) and frozen at load (--freeze).
      for (String freeze : new String[] {"", "--freeze"}) {
        Path out = tmp.resolve(weights + freeze + ".logits.f32");
        List<String> args = new ArrayList<>(List.of("logits", "--model", model.toString(), "--input",
            SharedFixtures.t0().resolve(c.get("input").asText()).toString(), "--shape",
            n + "," + res + "," + res + ",3", "--out", out.toString()));
        if (!freeze.isEmpty()) {
          args.add(freeze);
        }
        assertEquals(0, Main.run(args.toArray(String[]::new)), String.join(" ", args));
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        float[] logits = new float[n * 10];
        b.asFloatBuffer().get(logits);
        double err = SharedFixtures.relativeMaxError(c.get("logits"), logits, 10);
        assertTrue(err <= T0ParityTest.TOLERANCE, weights + " @" + res + " " + freeze + ": off by " + err);
      }
    }
  }

  /**
   * The release layout (DeepMind's byte layout) and the plain layout of the same arrays convert to
   * SavedModels with byte-identical variables and bit-identical logits; seed 5 also matches
   * DeepMind's logits.
   */
  @ParameterizedTest
  @ValueSource(ints = {5, 31})
  void releaseLayoutConvertsExactlyLikeThePlainLayout(int seed) throws Exception {
    String variant = SharedFixtures.t0VariantFile().toString();
    Path release = tmp.resolve("release");
    Path plain = tmp.resolve("plain");
    assertEquals(0, Main.run("convert", "--weights", SharedFixtures.t0().resolve("t0_seed" + seed + "_release.pkl").toString(),
        "--variant", variant, "--out", release.toString()));
    assertEquals(0, Main.run("convert", "--weights", SharedFixtures.t0().resolve("t0_seed" + seed + "_p3.pkl").toString(),
        "--variant", variant, "--out", plain.toString()));
    Path data = Path.of("variables", "variables.data-00000-of-00001");
    assertArrayEquals(Files.readAllBytes(plain.resolve(data)), Files.readAllBytes(release.resolve(data)),
        "variables differ between the layouts");
    String input = seed == 5 ? "input_2x64x64x3_seed1005.f32" : "input_4x64x64x3_seed1031.f32";
    int n = seed == 5 ? 2 : 4;
    float[] fromRelease = logits(release, input, n, 64);
    float[] fromPlain = logits(plain, input, n, 64);
    for (int i = 0; i < fromPlain.length; i++) {
      assertEquals(Float.floatToRawIntBits(fromPlain[i]), Float.floatToRawIntBits(fromRelease[i]), "logit " + i);
    }
    if (seed == 5) {
      JsonNode c = SharedFixtures.reference().get("cases").get(0);
      assertEquals("t0_seed5_p3.pkl", c.get("weights").asText());
      double err = SharedFixtures.relativeMaxError(c.get("logits"), fromRelease, 10);
      assertTrue(err <= T0ParityTest.TOLERANCE, "release layout: off by " + err);
    }
  }

  private float[] logits(Path model, String input, int n, int res) throws Exception {
    Path out = tmp.resolve(model.getFileName() + "-" + input + ".logits");
    assertEquals(0, Main.run("logits", "--model", model.toString(), "--input",
        SharedFixtures.t0().resolve(input).toString(), "--shape", n + "," + res + "," + res + ",3", "--out", out.toString()));
    float[] logits = new float[n * 10];
    ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(logits);
    return logits;
  }

  @Test
  void convertRefusesToOverwriteAndLeavesNothingOnFailure() throws Exception {
    Path model = tmp.resolve("m");
    Path weights = SharedFixtures.t0().resolve("t0_seed5_release.pkl");
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
