package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.cli.Main;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.training.OneDnnWeightCache;

/**
 * {@code TF_ONEDNN_ASSUME_FROZEN_WEIGHTS} (which the launcher sets for {@code logits}, {@code
 * predict} and {@code serve}) in real child JVMs, since TensorFlow reads it once per process:
 * inference with oneDNN's weight cache still reproduces DeepMind's logits call after call, also
 * after a call at another input shape; a convolution under it ignores new weights; and training
 * refuses to start under it.
 */
class OneDnnWeightCacheProcessTest {
  private static final String A = T0ReleaseExport.INPUT;
  private static final String B = "input_1x57x57x3_seed1008.f32:1:57";

  @TempDir Path tmp;

  @Test
  void cachedWeightsReproduceDeepMindLogitsCallAfterCall() throws Exception {
    Path model = T0ReleaseExport.convert(tmp.resolve("t0"));
    float[] cached = logits(model, "1", "cached.f32");
    float[] uncached = logits(model, "0", "uncached.f32");
    assertEquals(2 * 10 + 10 + 2 * 10, cached.length);

    double first = T0ReleaseExport.deepMindError(Arrays.copyOfRange(cached, 0, 20));
    double again = T0ReleaseExport.deepMindError(Arrays.copyOfRange(cached, 30, 50));
    assertTrue(first <= T0ParityTest.TOLERANCE, "first call off DeepMind's logits by " + first);
    assertTrue(again <= T0ParityTest.TOLERANCE, "third call off DeepMind's logits by " + again);
    // The call at another shape in between (no DeepMind reference for these weights at 57 px):
    // against the same export without the cache.
    double maxRef = 0;
    double maxDiff = 0;
    for (int i = 20; i < 30; i++) {
      maxRef = Math.max(maxRef, Math.abs(uncached[i]));
      maxDiff = Math.max(maxDiff, Math.abs(uncached[i] - cached[i]));
    }
    assertTrue(maxRef > 0.1 && maxDiff <= 1e-5 * maxRef,
        "57 px call: cached " + cached[20] + ".. vs uncached " + uncached[20] + "..");
  }

  /**
   * Why training refuses it, and proof that the variable reaches TensorFlow in these children: a
   * convolution whose weights are doubled between two calls gives the same output under it.
   */
  @Test
  void underTheCacheAConvolutionKeepsItsFirstWeights() throws Exception {
    assertEquals("26.0", staleProbe("0"), "without the cache the output doubles (max change 26)");
    assertEquals("0.0", staleProbe("1"), "with the cache the output does not move");
  }

  @Test
  void trainingUnderTheCacheIsRefusedBeforeAnythingIsWritten() throws Exception {
    Path run = tmp.resolve("run");
    Process p = child(List.of(Main.class.getName(), "train", "--variant",
        SharedFixtures.t0VariantFile().toString(), "--out", run.toString(), "--steps", "2"), "1");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(2, p.waitFor(), out);
    assertTrue(out.contains("error: " + OneDnnWeightCache.VARIABLE + "=1 is set"), out);
    assertFalse(Files.exists(run), "the refused run left " + run);
  }

  private float[] logits(Path model, String cache, String name) throws Exception {
    Path out = tmp.resolve(name);
    Process p = child(List.of(WeightCacheChild.class.getName(), model.toString(), out.toString(),
        A, B, A), cache);
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), log);
    return SharedFixtures.floats(out);
  }

  private static String staleProbe(String cache) throws Exception {
    Process p = child(List.of(WeightCacheChild.class.getName(), "stale"), cache);
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), log);
    String prefix = "change after the weights changed: ";
    return log.lines().filter(l -> l.startsWith(prefix)).findFirst()
        .map(l -> l.substring(prefix.length())).orElseThrow(() -> new AssertionError(log));
  }

  private static Process child(List<String> mainAndArgs, String cache) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin",
        "java").toString(), "-Xmx1g", "-cp", System.getProperty("java.class.path")));
    cmd.addAll(mainAndArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put(OneDnnWeightCache.VARIABLE, cache);
    pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
    return pb.start();
  }
}
