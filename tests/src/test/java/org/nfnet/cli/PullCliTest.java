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
}
