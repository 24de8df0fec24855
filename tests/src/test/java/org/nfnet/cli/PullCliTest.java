package org.nfnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.converters.download.ReleaseCatalog;
import org.nfnet.tests.ReleaseServer;
import picocli.CommandLine;

/**
 * {@code nfnet pull} through the real command line (Main, picocli, error handler) against a
 * loopback mirror serving the T0 fixture as release "T0". In package org.nfnet.cli to construct
 * the package-private command with a test catalog.
 */
class PullCliTest {
  @TempDir Path dir;
  private ReleaseServer server;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private PrintStream oldOut;
  private PrintStream oldErr;

  @BeforeEach
  void start() throws Exception {
    server = ReleaseServer.withT0();
    oldOut = System.out;
    oldErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @AfterEach
  void stop() {
    System.setOut(oldOut);
    System.setErr(oldErr);
    server.close();
  }

  /** Main with `pull` knowing release T0 (md5 given) in addition to nothing else. */
  private int nfnet(String md5, String... args) {
    // The catalog's own URL is a dead port: every test passes --from, as a mirror user would.
    ReleaseCatalog catalog = server.t0Catalog(md5).withBaseUrl("http://127.0.0.1:9/nowhere");
    CommandLine.IFactory factory = new CommandLine.IFactory() {
      @Override
      public <K> K create(Class<K> cls) throws Exception {
        return cls == PullCommand.class ? cls.cast(new PullCommand(catalog)) : CommandLine.defaultFactory().create(cls);
      }
    };
    return Main.run(factory, args);
  }

  private String text(ByteArrayOutputStream b) {
    String s = b.toString(StandardCharsets.UTF_8);
    b.reset();
    return s;
  }

  @Test
  void pullConvertsThenASecondPullIsInstant() throws Exception {
    String md5 = ReleaseServer.md5(ReleaseServer.read(ReleaseServer.T0_SERVED));
    Path cache = dir.resolve("cache");
    Path model = dir.resolve("models/t0");
    assertEquals(0, nfnet(md5, "pull", "T0", "--from", server.baseUrl(), "--cache", cache.toString(),
        "--out", model.toString()), () -> err.toString(StandardCharsets.UTF_8));
    assertTrue(Files.isRegularFile(model.resolve("saved_model.pb")));
    String first = text(out);
    assertTrue(first.contains("T0: wrote " + model), first);
    String progress = text(err);
    assertTrue(progress.contains("downloading " + server.baseUrl() + "/T0_haiku.npz"), progress);
    assertTrue(progress.contains("T0_haiku.npz") && progress.contains("100%"), "progress bar: " + progress);

    assertEquals(0, nfnet(md5, "pull", "t0", "--from", server.baseUrl(), "--cache", cache.toString(),
        "--out", model.toString()));
    assertTrue(text(out).contains("T0: already pulled: " + model));
    assertEquals(1, server.requests().size(), "the second pull must not download");
  }

  @Test
  void failuresAreOneLineNamingUrlStatusAndSums() throws Exception {
    Path cache = dir.resolve("cache");
    String wrong = "00000000000000000000000000000000";
    assertEquals(2, nfnet(wrong, "pull", "T0", "--from", server.baseUrl(), "--cache", cache.toString()));
    String e = text(err);
    assertTrue(e.contains("error: md5 mismatch") && e.contains(wrong)
        && e.contains(ReleaseServer.md5(ReleaseServer.read(ReleaseServer.T0_SERVED))), e);
    assertFalse(Files.exists(cache.resolve("models/T0")));
    assertFalse(Files.exists(cache.resolve("T0_haiku.npz")));

    assertEquals(2, nfnet(wrong, "pull", "T0", "--from", server.baseUrl() + "/missing", "--cache", cache.toString()));
    e = text(err);
    assertTrue(e.contains("error: GET " + server.baseUrl() + "/missing/T0_haiku.npz failed: HTTP 404"), e);

    assertEquals(2, nfnet(wrong, "pull", "T0", "--from", "ftp://example.org/x", "--cache", cache.toString()));
    assertTrue(text(err).contains("must be an http:// or https:// URL"));
  }
  /**
   * A child process with only the environment set: NFNET_WEIGHTS_URL=http://host:port/dir makes
   * `pull F0` fetch dir/F0_haiku.npz into $NFNET_CACHE and check it against DeepMind's real F0
   * md5. The mirror serves other bytes under that name, so the pull must fail naming both sums
   * and leave the cache empty.
   */
  @Test
  void environmentMirrorAndCacheWithDeepMindsMd5() throws Exception {
    byte[] notF0 = ReleaseServer.read(ReleaseServer.T0_SERVED);
    server.put("F0_haiku.npz", notF0);
    Path cache = dir.resolve("env-cache");
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder pb = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "pull", "F0").redirectErrorStream(true);
    pb.environment().put("NFNET_WEIGHTS_URL", server.baseUrl());
    pb.environment().put("NFNET_CACHE", cache.toString());
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(2, p.waitFor(), output);
    assertEquals("/dm-nfnets/F0_haiku.npz", server.requests().get(0).path());
    assertTrue(output.contains("downloading " + server.baseUrl() + "/F0_haiku.npz"), output);
    assertTrue(output.contains("error: md5 mismatch") && output.contains(ReleaseServer.md5(notF0))
        && output.contains("0a41039da1cb43adf47f1b7d86ddfe0f"), output);
    try (var left = Files.walk(cache)) {
      assertEquals(1, left.count(), "the cache must hold nothing after a failed pull");
    }
  }
}
