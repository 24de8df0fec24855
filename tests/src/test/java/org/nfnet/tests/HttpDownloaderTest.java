package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.converters.download.DownloadException;
import org.nfnet.converters.download.DownloadListener;
import org.nfnet.converters.download.HttpDownloader;
import org.nfnet.converters.download.WeightCache;

/**
 * The download code against a loopback server that misbehaves like real networks and mirrors:
 * every file that ends up at the target is byte-identical to what the server holds, with the md5
 * computed independently here; every failure names the URL and leaves either nothing or a
 * resumable {@code .part}.
 */
class HttpDownloaderTest {
  @TempDir Path dir;
  private ReleaseServer server;
  private byte[] file;
  private String md5;
  private URI uri;
  private Path target;
  private final List<String> notes = new ArrayList<>();
  private final DownloadListener listener = new DownloadListener() {
    @Override public void note(String message) {
      notes.add(message);
    }
  };

  @BeforeEach
  void start() throws Exception {
    server = ReleaseServer.withT0();
    file = ReleaseServer.read(ReleaseServer.T0_SERVED);
    md5 = ReleaseServer.md5(file);
    uri = URI.create(server.baseUrl() + "/" + ReleaseServer.T0_FILE);
    target = dir.resolve("cache").resolve(ReleaseServer.T0_FILE);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void fullDownloadIsVerifiedAndRenamedIntoPlace() throws Exception {
    HttpDownloader.Result r = new HttpDownloader().download(uri, target, md5, listener);
    assertArrayEquals(file, Files.readAllBytes(target));
    assertEquals(md5, r.md5());
    assertEquals(file.length, r.bytes());
    assertFalse(r.resumed());
    assertFalse(Files.exists(WeightCache.part(target)));
    assertEquals(List.of(new ReleaseServer.Request("/dm-nfnets/T0_haiku.npz", null, 200)), server.requests());
    assertFalse(Files.exists(target.resolveSibling("T0_haiku.npz.part.validator")));
  }

  @Test
  void aTransferCutShortIsKeptAndResumedWithRange() throws Exception {
    long cut = 400_000;
    server.cutOnceAfter = cut;
    DownloadException e = assertThrows(DownloadException.class,
        () -> new HttpDownloader().download(uri, target, md5, listener));
    assertTrue(e.getMessage().contains(uri.toString()) && e.getMessage().contains("resumes"), e.getMessage());
    assertFalse(Files.exists(target), "an incomplete download must never be at the target");
    Path part = WeightCache.part(target);
    long kept = Files.size(part);
    assertTrue(kept > 0 && kept <= cut, "kept " + kept);
    assertArrayEquals(Arrays.copyOf(file, (int) kept), Files.readAllBytes(part));

    HttpDownloader.Result r = new HttpDownloader().download(uri, target, md5, listener);
    assertTrue(r.resumed());
    ReleaseServer.Request last = server.requests().get(server.requests().size() - 1);
    assertEquals("bytes=" + kept + "-", last.range());
    assertEquals(206, last.status());
    assertArrayEquals(file, Files.readAllBytes(target));
    assertEquals(md5, r.md5(), "md5 over the kept prefix and the resumed rest");
    assertFalse(Files.exists(part));
  }

  @Test
  void aServerIgnoringRangeGivesTheWholeFileFromTheStart() throws Exception {
    Path part = WeightCache.part(target);
    Files.createDirectories(part.getParent());
    Files.write(part, Arrays.copyOf(file, 123_456));
    server.ignoreRange = true;
    HttpDownloader.Result r = new HttpDownloader().download(uri, target, md5, listener);
    assertEquals("bytes=123456-", server.requests().get(0).range());
    assertEquals(200, server.requests().get(0).status());
    assertFalse(r.resumed());
    assertArrayEquals(file, Files.readAllBytes(target));
    assertTrue(notes.stream().anyMatch(n -> n.contains("ignored the Range")), notes.toString());
  }

  @Test
  void aMismatchedContentRangeFallsBackToAFullDownload() throws Exception {
    Path part = WeightCache.part(target);
    Files.createDirectories(part.getParent());
    Files.write(part, Arrays.copyOf(file, 5000));
    server.wrongRangeStart = 0; // claims to send from byte 0 while we asked for 5000
    new HttpDownloader().download(uri, target, md5, listener);
    assertArrayEquals(file, Files.readAllBytes(target));
    assertEquals(List.of("bytes=5000-", "none"), server.requests().stream()
        .map(q -> q.range() == null ? "none" : q.range()).toList());
  }

  @Test
  void aWrongMd5NamesBothSumsAndLeavesNothing() throws Exception {
    String wrong = "0123456789abcdef0123456789abcdef";
    DownloadException e = assertThrows(DownloadException.class,
        () -> new HttpDownloader().download(uri, target, wrong, listener));
    assertTrue(e.getMessage().contains(md5) && e.getMessage().contains(wrong), e.getMessage());
    assertTrue(e.getMessage().contains(uri.toString()), e.getMessage());
    assertFalse(Files.exists(target));
    assertFalse(Files.exists(WeightCache.part(target)));
  }

  @Test
  void aCorruptPartialFileFailsVerificationAndIsDeleted() throws Exception {
    Path part = WeightCache.part(target);
    Files.createDirectories(part.getParent());
    byte[] prefix = Arrays.copyOf(file, 10_000);
    prefix[1234] ^= 1;
    Files.write(part, prefix);
    DownloadException e = assertThrows(DownloadException.class,
        () -> new HttpDownloader().download(uri, target, md5, listener));
    assertTrue(e.getMessage().contains("md5 mismatch"), e.getMessage());
    assertFalse(Files.exists(target));
    assertFalse(Files.exists(part));
    // the next attempt starts clean and succeeds
    new HttpDownloader().download(uri, target, md5, listener);
    assertArrayEquals(file, Files.readAllBytes(target));
  }

  @Test
  void notFoundNamesTheUrlAndStatus() {
    URI missing = URI.create(server.baseUrl() + "/F9_haiku.npz");
    DownloadException e = assertThrows(DownloadException.class,
        () -> new HttpDownloader().download(missing, target, md5, listener));
    assertEquals(404, e.status());
    assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("HTTP 404"), e.getMessage());
    assertFalse(Files.exists(target));
    assertFalse(Files.exists(WeightCache.part(target)), "nothing to resume, so no .part either");
  }

  @Test
  void aStalledTransferTimesOutAndResumesLater() throws Exception {
    server.stallAfter = 100_000;
    server.stallMillis = 3_000;
    DownloadException e = assertThrows(DownloadException.class, () -> new HttpDownloader()
        .idleTimeout(Duration.ofMillis(800)).download(uri, target, md5, listener));
    assertTrue(e.getMessage().contains("no data from " + uri), e.getMessage());
    assertTrue(Files.size(WeightCache.part(target)) > 0);
    HttpDownloader.Result r = new HttpDownloader().download(uri, target, md5, listener);
    assertTrue(r.resumed());
    assertArrayEquals(file, Files.readAllBytes(target));
  }

  @Test
  void aResponseOverTheSizeCapIsRefused() {
    DownloadException e = assertThrows(DownloadException.class, () -> new HttpDownloader()
        .maxBytes(1000).download(uri, target, md5, listener));
    assertTrue(e.getMessage().contains("limit of 1000"), e.getMessage());
    assertFalse(Files.exists(target));
  }
  @Test
  void aSecondDownloaderOfTheSameFileIsToldSoAndLeavesItAlone() throws Exception {
    Path part = WeightCache.part(target);
    Files.createDirectories(part.getParent());
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(part,
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
        java.nio.channels.FileLock held = ch.lock()) {
      java.io.IOException e = assertThrows(java.io.IOException.class,
          () -> new HttpDownloader().download(uri, target, md5, listener));
      assertTrue(e.getMessage().contains("another download") && e.getMessage().contains(part.toString()), e.getMessage());
    }
    assertEquals(List.of(), server.requests());
  }

  @Test
  void anUnwritableCacheNamesThePath() throws Exception {
    Path notADir = dir.resolve("file.txt");
    Files.writeString(notADir, "x");
    Path bad = notADir.resolve("cache").resolve(ReleaseServer.T0_FILE);
    java.io.IOException e = assertThrows(java.io.IOException.class,
        () -> new HttpDownloader().download(uri, bad, md5, listener));
    assertTrue(e.getMessage().contains("cannot write the download " + WeightCache.part(bad)), e.getMessage());
    assertEquals("x", Files.readString(notADir));
  }
  @Test
  void aFileChangedOnTheServerIsNotSplicedOntoAnOldPart() throws Exception {
    server.cutOnceAfter = 300_000;
    assertThrows(DownloadException.class, () -> new HttpDownloader().download(uri, target, null, listener));
    // the mirror now holds another file under the same name
    byte[] changed = file.clone();
    for (int i = 0; i < changed.length; i += 4096) {
      changed[i] ^= 0x5a;
    }
    server.put(ReleaseServer.T0_FILE, changed);
    // no md5 to catch it: only If-Range keeps the old head from being glued to the new tail
    HttpDownloader.Result r = new HttpDownloader().download(uri, target, null, listener);
    ReleaseServer.Request last = server.requests().get(server.requests().size() - 1);
    assertEquals("\"" + md5 + "\"", last.ifRange(), "If-Range carries the old file's ETag");
    assertEquals(200, last.status());
    assertFalse(r.resumed());
    assertArrayEquals(changed, Files.readAllBytes(target));
    assertFalse(Files.exists(target.resolveSibling("T0_haiku.npz.part.validator")));
  }
}
