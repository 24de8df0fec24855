package org.nfnet.tests;

import org.nfnet.testing.SharedFixtures;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.nfnet.converters.download.Release;
import org.nfnet.converters.download.ReleaseCatalog;
import org.nfnet.zoo.VariantJson;

/**
 * A release mirror on 127.0.0.1 (JDK HttpServer) for the pull tests: serves files under
 * {@code /dm-nfnets/}, answers {@code Range: bytes=N-} with 206 + Content-Range, records every
 * request, and can misbehave on purpose (cut a transfer short, ignore Range, stall).
 */
public final class ReleaseServer implements AutoCloseable {
  /** The T0 weights served as the "release" file, in the byte layout of DeepMind's F0-F6 files. */
  public static final Path T0_SERVED = SharedFixtures.t0().resolve("t0_seed5_release.pkl");
  public static final String T0_FILE = "T0_haiku.npz";
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

  /** One request as the server saw it. */
  public record Request(String path, String range, int status, String ifRange) {
    Request(String path, String range, int status) {
      this(path, range, status, null);
    }
  }

  private final HttpServer server;
  private final Map<String, byte[]> files = new ConcurrentHashMap<>();
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  /** Next full or ranged response is cut after this many body bytes (then the connection is dropped); -1 = off. */
  public volatile long cutOnceAfter = -1;
  /** Answer every request with the whole file (200), as servers without Range support do. */
  public volatile boolean ignoreRange;
  /** Answer a Range request with this Content-Range start instead of the requested one (a broken server); -1 = off. */
  public volatile long wrongRangeStart = -1;
  /** After sending this many bytes, stop sending (without closing) for {@link #stallMillis}; -1 = off. */
  public volatile long stallAfter = -1;
  public volatile long stallMillis;

  public ReleaseServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", this::handle);
    server.setExecutor(Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "release-server");
      t.setDaemon(true);
      return t;
    }));
    server.start();
  }

  /** The T0 fixture served as {@value #T0_FILE}, and a catalog with its true md5. */
  public static ReleaseServer withT0() throws IOException {
    ReleaseServer s = new ReleaseServer();
    s.put(T0_FILE, read(T0_SERVED));
    return s;
  }

  /** A catalog listing T0 (variants/t0.json) with the given md5, fetched from this server. */
  public ReleaseCatalog t0Catalog(String md5) {
    Path variant = Path.of(System.getProperty("nfnet.repo.dir", "..")).resolve("variants/t0.json");
    return ReleaseCatalog.of(baseUrl(), List.of(new Release("T0", T0_FILE, md5, VariantJson.load(variant))));
  }

  public void put(String name, byte[] content) {
    files.put("/dm-nfnets/" + name, content);
  }

  /** The directory URL, e.g. {@code http://127.0.0.1:PORT/dm-nfnets} (no trailing slash). */
  public String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/dm-nfnets";
  }

  public List<Request> requests() {
    return List.copyOf(requests);
  }

  public static byte[] read(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** md5 of bytes, computed here independently of the code under test. */
  public static String md5(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private void handle(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String range = ex.getRequestHeaders().getFirst("Range");
    byte[] body = files.get(path);
    try (ex) {
      if (body == null) {
        requests.add(new Request(path, range, 404));
        ex.sendResponseHeaders(404, -1);
        return;
      }
      long start = 0;
      int status = 200;
      String etag = "\"" + md5(body) + "\"";
      String ifRange = ex.getRequestHeaders().getFirst("If-Range");
      ex.getResponseHeaders().set("ETag", etag);
      Matcher m = range == null ? null : RANGE.matcher(range);
      // RFC 9110 If-Range: a validator that no longer matches means "send the whole new file"
      boolean sameFile = ifRange == null || ifRange.equals(etag);
      if (m != null && m.matches() && !ignoreRange && sameFile) {
        start = Long.parseLong(m.group(1));
        if (start >= body.length) {
          requests.add(new Request(path, range, 416));
          ex.getResponseHeaders().set("Content-Range", "bytes */" + body.length);
          ex.sendResponseHeaders(416, -1);
          return;
        }
        status = 206;
        long shown = wrongRangeStart >= 0 ? wrongRangeStart : start;
        ex.getResponseHeaders().set("Content-Range", "bytes " + shown + "-" + (body.length - 1) + "/" + body.length);
      }
      requests.add(new Request(path, range, status, ex.getRequestHeaders().getFirst("If-Range")));
      long length = body.length - start;
      ex.sendResponseHeaders(status, length);
      long cut = cutOnceAfter;
      cutOnceAfter = -1;
      OutputStream out = ex.getResponseBody();
      long sent = 0;
      int chunk = 16 * 1024;
      while (sent < length) {
        if (cut >= 0 && sent >= cut) {
          // drop the connection mid-body, as a flaky network does
          out.flush();
          throw new IOException("test server: transfer cut after " + sent + " bytes");
        }
        if (stallAfter >= 0 && sent >= stallAfter) {
          out.flush();
          sleep(stallMillis);
          stallAfter = -1;
        }
        int n = (int) Math.min(chunk, length - sent);
        if (cut >= 0) {
          n = (int) Math.min(n, cut - sent);
        }
        out.write(body, (int) (start + sent), n);
        sent += n;
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
