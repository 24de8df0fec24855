package org.nfnet.tests;

import org.nfnet.testing.SharedFixtures;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.converters.download.DownloadException;
import org.nfnet.savedmodel.ModelCard;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.savedmodel.Pretrained;
import org.nfnet.zoo.graph.Precision;

/**
 * {@code NFNetModel.pretrained} / {@code Pretrained.pull} end to end against a loopback mirror
 * serving the T0 fixture as a "release": the pulled model reproduces DeepMind's logits for those
 * weights, a second pull downloads and converts nothing, and a corrupt download becomes no model.
 */
class PretrainedPullTest {
  @TempDir Path dir;
  private ReleaseServer server;
  private String md5;

  @BeforeEach
  void start() throws Exception {
    server = ReleaseServer.withT0();
    md5 = ReleaseServer.md5(ReleaseServer.read(ReleaseServer.T0_SERVED));
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private Pretrained.Options options(String releaseMd5) {
    return Pretrained.Options.defaults().withCatalog(server.t0Catalog(releaseMd5)).withCacheDir(dir.resolve("cache"));
  }

  @Test
  void pullDownloadsConvertsAndReproducesDeepMindLogitsThenIsCached() throws Exception {
    Path cache = dir.resolve("cache");
    try (NFNetModel m = NFNetModel.pretrained("t0", options(md5))) {
      assertEquals(cache.resolve("models/T0"), m.dir());
      assertEquals("T0", m.variant());
      JsonNode c = SharedFixtures.reference().get("cases").get(0);
      assertEquals(ReleaseServer.T0_SERVED.getFileName().toString().replace("release", "p3"), c.get("weights").asText());
      int n = c.get("batch").asInt();
      int res = c.get("res").asInt();
      float[][] logits = m.logitsFromNormalized(SharedFixtures.readF32(SharedFixtures.t0().resolve(c.get("input").asText())), n, res, res);
      float[] flat = new float[n * 10];
      for (int i = 0; i < n; i++) {
        System.arraycopy(logits[i], 0, flat, i * 10, 10);
      }
      double err = SharedFixtures.relativeMaxError(c.get("logits"), flat, 10);
      assertTrue(err <= T0ParityTest.TOLERANCE, "pulled model off DeepMind's logits by " + err);
    }
    Map<String, Object> card = ModelCard.read(cache.resolve("models/T0"));
    assertEquals(md5, card.get("source_md5"));
    assertEquals("T0", card.get("release"));
    assertEquals(server.baseUrl() + "/T0_haiku.npz", card.get("source_url"));
    assertTrue(Files.isRegularFile(cache.resolve("T0_haiku.npz")), "the verified download stays cached");
    assertEquals(1, server.requests().size());

    long pb = Files.getLastModifiedTime(cache.resolve("models/T0/saved_model.pb")).toMillis();
    Pretrained.Pulled again = Pretrained.pull("T0", options(md5));
    assertFalse(again.downloaded());
    assertFalse(again.converted());
    assertEquals(1, server.requests().size(), "a second pull must not touch the network");
    assertEquals(pb, Files.getLastModifiedTime(cache.resolve("models/T0/saved_model.pb")).toMillis());
  }

  @Test
  void aBf16PullIsAModelOfItsOwnFromTheSameDownload() throws Exception {
    Path cache = dir.resolve("cache");
    Pretrained.Pulled fp32 = Pretrained.pull("T0", options(md5));
    Pretrained.Pulled bf16 = Pretrained.pull("T0", options(md5).withPrecision(Precision.BFLOAT16));
    assertEquals(cache.resolve("models/T0-bf16"), bf16.model());
    assertTrue(bf16.converted() && !bf16.downloaded(), "converted from the cached release file");
    assertEquals(1, server.requests().size());
    Map<String, Object> card = ModelCard.read(bf16.model());
    assertEquals("bfloat16", card.get("conv_precision"));
    assertTrue(String.valueOf(card.get("weights")).contains("bfloat16"), card.toString());
    assertEquals("float32", ModelCard.read(fp32.model()).get("conv_precision"));
    assertFalse(Pretrained.pull("T0", options(md5).withPrecision(Precision.BFLOAT16)).converted());
    // A float32 export named as the output of a bf16 pull is not silently reused or replaced.
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Pretrained.pull(
        "T0", options(md5).withPrecision(Precision.BFLOAT16).withOut(fp32.model())));
    assertTrue(e.getMessage().contains("holds a float32 export, not bfloat16"), e.getMessage());
    assertEquals("float32", ModelCard.read(fp32.model()).get("conv_precision"));
  }

  @Test
  void anInterruptedPullResumesOnTheNextCall() throws Exception {
    server.cutOnceAfter = 300_000;
    assertThrows(DownloadException.class, () -> Pretrained.pull("T0", options(md5)));
    assertFalse(Files.exists(dir.resolve("cache/models/T0")), "no model from a partial download");
    Pretrained.Pulled p = Pretrained.pull("T0", options(md5));
    assertTrue(p.downloaded() && p.converted());
    List<ReleaseServer.Request> reqs = server.requests();
    assertEquals(2, reqs.size());
    assertTrue(reqs.get(1).range() != null && reqs.get(1).range().startsWith("bytes="), reqs.toString());
    assertEquals(md5, ModelCard.read(p.model()).get("source_md5"));
  }

  @Test
  void aWrongMd5LeavesNoModelAndNoCachedFile() throws Exception {
    String wrong = "ffffffffffffffffffffffffffffffff";
    DownloadException e = assertThrows(DownloadException.class, () -> Pretrained.pull("T0", options(wrong)));
    assertTrue(e.getMessage().contains(wrong) && e.getMessage().contains(md5), e.getMessage());
    try (Stream<Path> left = Files.walk(dir)) {
      assertEquals(List.of(dir, dir.resolve("cache")), left.toList(), "nothing but the empty cache dir");
    }
  }

  @Test
  void anExistingForeignOutDirectoryIsRefusedAndUntouched() throws Exception {
    Path out = dir.resolve("mine");
    Files.createDirectories(out);
    Files.writeString(out.resolve("notes.txt"), "mine");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Pretrained.pull("T0", options(md5).withOut(out)));
    assertTrue(e.getMessage().contains(out.toString()), e.getMessage());
    assertEquals("mine", Files.readString(out.resolve("notes.txt")));
    assertEquals(0, server.requests().size());
  }

  @Test
  void withoutVerificationAMismatchedFileIsConvertedButNotReusedByAVerifiedPull() throws Exception {
    String wrong = "ffffffffffffffffffffffffffffffff";
    Pretrained.Pulled p = Pretrained.pull("T0", options(wrong).withVerify(false));
    assertTrue(p.converted());
    assertEquals(md5, ModelCard.read(p.model()).get("source_md5"));
    // Verified pull of the true release: the cached model's source md5 matches it, so it is reused.
    assertFalse(Pretrained.pull("T0", options(md5)).converted());
    // Verified against another md5: neither the cached file nor the model may be used; the download fails.
    assertThrows(DownloadException.class, () -> Pretrained.pull("T0", options(wrong)));
    assertFalse(Files.exists(dir.resolve("cache/T0_haiku.npz")));
  }

  @Test
  void unknownNamesListWhatExists() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Pretrained.pull("F9", Pretrained.Options.defaults().withCacheDir(dir)));
    assertTrue(e.getMessage().contains("F9") && e.getMessage().contains("F0, F1, F2, F3, F4, F5, F6"), e.getMessage());
  }
}
