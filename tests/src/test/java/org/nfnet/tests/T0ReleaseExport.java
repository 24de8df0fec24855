package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.nfnet.cli.Main;
import org.nfnet.testing.SharedFixtures;

/**
 * The T0 fixture's release-layout file converted by {@code nfnet convert}, as a user would, for
 * the tests that run it in child JVMs, and DeepMind's logits for those weights.
 */
final class T0ReleaseExport {
  /** The fixture input DeepMind's first reference case is computed on: 2 images, 64 px. */
  static final String INPUT = "input_2x64x64x3_seed1005.f32:2:64";

  private T0ReleaseExport() {}

  /** Converts {@code t0_seed5_release.pkl} into {@code out} and returns {@code out}. */
  static Path convert(Path out) {
    assertEquals(0, Main.run("convert", "--weights",
        SharedFixtures.t0().resolve("t0_seed5_release.pkl").toString(), "--variant",
        SharedFixtures.t0VariantFile().toString(), "--out", out.toString()));
    return out;
  }

  /** Largest deviation of {@link #INPUT}'s 2 x 10 logits from DeepMind's, relative to theirs. */
  static double deepMindError(float[] logits) {
    JsonNode ref = SharedFixtures.reference().get("cases").get(0);
    // The release file holds the weights of t0_seed5_p3.pkl in DeepMind's release layout.
    assertEquals("t0_seed5_p3.pkl", ref.get("weights").asText());
    assertEquals(20, logits.length);
    return SharedFixtures.relativeMaxError(ref.get("logits"), logits, 10);
  }
}
