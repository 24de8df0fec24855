package org.nfnet.converters.download;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads one file over HTTP(S) with the JDK client, resumably and verified:
 * <ul>
 *   <li>bytes go to {@code FILE.part} beside the target; an interrupted transfer keeps it, and the
 *       next call asks for the rest with {@code Range: bytes=N-} and {@code If-Range} (the
 *       ETag or Last-Modified saved in {@code FILE.part.validator}, so a file replaced on the
 *       server comes whole instead of being spliced onto the old head). A {@code 206} must carry a
 *       matching {@code Content-Range}; a {@code 200} (server ignores ranges) restarts from byte 0;
 *       a {@code 416} or a mismatched range restarts once with a full download;</li>
 *   <li>the md5 is computed while streaming (a resumed prefix is hashed from disk first); on a
 *       mismatch the partial file is deleted and nothing is left;</li>
 *   <li>only a complete, verified file is renamed (atomically) to the target;</li>
 *   <li>a transfer with no data for {@link #idleTimeout} is aborted (resumable), and a response
 *       larger than {@link #maxBytes} is refused before it fills the disk;</li>
 *   <li>{@code FILE.part} is locked while in use, so two processes never write it at once.</li>
 * </ul>
 * Not hand-written HTTP: java.net.http does the protocol (redirects, TLS, chunking); this class only
 * adds the resume, verification and file handling that no JDK or Guava API offers.
 */
public final class HttpDownloader {
  /** Default: abort a transfer that sends nothing for this long. */
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
  /** Default size cap: the largest release (F6) is ~1.75 GB. */
  public static final long DEFAULT_MAX_BYTES = 4L << 30;
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
  private static final long POLL_MILLIS = 200;

  private final HttpClient client;
  private Duration idleTimeout = DEFAULT_IDLE_TIMEOUT;
  private long maxBytes = DEFAULT_MAX_BYTES;

  /** What a finished download produced. */
  public record Result(Path file, String md5, long bytes, boolean resumed) {}

  public HttpDownloader() {
    this(HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30))
        .followRedirects(HttpClient.Redirect.NORMAL).build());
  }

  public HttpDownloader(HttpClient client) {
    this.client = Objects.requireNonNull(client);
  }

  /** Abort when no byte arrives for this long (also the wait for the response headers). */
  public HttpDownloader idleTimeout(Duration d) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("idle timeout must be positive, got " + d);
    }
    this.idleTimeout = d;
    return this;
  }

  /** Refuse responses larger than this. */
  public HttpDownloader maxBytes(long n) {
    if (n <= 0) {
      throw new IllegalArgumentException("max bytes must be positive, got " + n);
    }
    this.maxBytes = n;
    return this;
  }

  /**
   * Downloads {@code uri} to {@code target}, resuming {@code target.part} if present.
   *
   * @param expectedMd5 lower-case hex md5 the file must have, or null to skip the check
   * @throws DownloadException for HTTP errors (naming URL and status), interrupted transfers (the
   *     partial file is kept for the next attempt) and md5 mismatches (naming both sums; the
   *     partial file is deleted)
   */
  public Result download(URI uri, Path target, String expectedMd5, DownloadListener listener) throws IOException {
    Path part = WeightCache.part(target.toAbsolutePath());
    // Everything below happens under the lock, including the md5 verdict and the rename, so a
    // second process never sees (or resumes into) a file this one is about to delete or rename.
    try (FileChannel ch = openPart(part); FileLock lock = lock(ch, part)) {
      Transfer t;
      try {
        t = transferAll(uri, part, ch, listener);
      } catch (IOException | RuntimeException e) {
        deleteIfEmpty(part); // nothing to resume (e.g. after a 404): leave no trace
        throw e;
      }
      Files.deleteIfExists(validatorFile(part));
      if (expectedMd5 != null && !t.md5.equals(expectedMd5)) {
        Files.deleteIfExists(part);
        throw new DownloadException(uri, -1, "md5 mismatch for " + uri + ": downloaded " + t.bytes
            + " bytes with md5 " + t.md5 + ", but the release file " + target.getFileName() + " has md5 "
            + expectedMd5 + ". The download was deleted; check the mirror, or turn off md5 "
            + "verification (pull --no-verify) at your own risk.");
      }
      Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return new Result(target, t.md5, t.bytes, t.resumed);
    }
  }

  /** Resumes (or starts) the transfer; falls back once to a full download if the range is refused. */
  private Transfer transferAll(URI uri, Path part, FileChannel ch, DownloadListener listener) throws IOException {
    Transfer t = transfer(uri, part, ch, ch.size(), listener);
    if (t == null) {
      ch.truncate(0);
      t = transfer(uri, part, ch, 0, listener);
      if (t == null) {
        throw new DownloadException(uri, -1, "GET " + uri + ": the server answered a full request like a range request");
      }
    }
    ch.force(true);
    return t;
  }

  private record Transfer(String md5, long bytes, boolean resumed) {}

  /** One GET; null means "restart without Range". */
  private Transfer transfer(URI uri, Path part, FileChannel ch, long offset, DownloadListener listener)
      throws IOException {
    MessageDigest md = md5();
    HttpRequest.Builder req = HttpRequest.newBuilder(uri).GET().timeout(idleTimeout);
    if (offset > 0) {
      req.header("Range", "bytes=" + offset + "-");
      // If-Range: resume only if the server's file is still the one the part came from;
      // otherwise the server sends the new file whole (200) instead of splicing its tail on.
      readValidator(part).ifPresent(v -> req.header("If-Range", v));
    }
    HttpResponse<Flow.Publisher<List<ByteBuffer>>> resp;
    try {
      resp = client.send(req.build(), HttpResponse.BodyHandlers.ofPublisher());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("download of " + uri + " interrupted");
    } catch (IOException e) {
      throw new DownloadException(uri, "GET " + uri + " failed: " + describe(e), e);
    }
    int status = resp.statusCode();
    long total;
    long start = offset;
    if (status == 206 && offset > 0) {
      String range = resp.headers().firstValue("Content-Range").orElse("");
      Matcher m = CONTENT_RANGE.matcher(range.strip());
      if (!m.matches() || Long.parseLong(m.group(1)) != offset
          || (!m.group(3).equals("*") && Long.parseLong(m.group(2)) != Long.parseLong(m.group(3)) - 1)) {
        discard(resp);
        listener.note("GET " + uri + ": asked for bytes " + offset + "- but got Content-Range '" + range
            + "'; downloading from the start");
        return null;
      }
      total = m.group(3).equals("*") ? -1 : Long.parseLong(m.group(3));
      listener.note("resuming " + part.getFileName() + " at " + mb(offset));
      hashPrefix(ch, offset, md);
    } else if (status == 200) {
      if (offset > 0) {
        listener.note("the server ignored the Range request (HTTP 200); downloading from the start");
      }
      start = 0;
      total = resp.headers().firstValueAsLong("Content-Length").orElse(-1);
      writeValidator(part, resp);
    } else if (status == 416 && offset > 0) {
      discard(resp);
      listener.note("the server cannot resume at byte " + offset + " (HTTP 416); downloading from the start");
      return null;
    } else {
      discard(resp);
      throw new DownloadException(uri, status, "GET " + uri + " failed: HTTP " + status + reason(status));
    }
    if (total > maxBytes) {
      discard(resp);
      throw new DownloadException(uri, status, "GET " + uri + ": the server announces " + total
          + " bytes, more than the limit of " + maxBytes);
    }
    checkSpace(uri, part, total - start);
    ch.truncate(start);
    PartFileSink sink = new PartFileSink(ch, start, md, maxBytes);
    listener.started(uri, start, total);
    resp.body().subscribe(sink);
    try {
      awaitBody(uri, part, sink, total, listener);
    } finally {
      listener.stopped(sink.position());
    }
    long bytes = sink.position();
    if (total >= 0 && bytes != total) {
      throw new DownloadException(uri, status, "download of " + uri + " ended after " + bytes + " of "
          + total + " bytes; " + part + " is kept and the next attempt resumes it");
    }
    return new Transfer(HexFormat.of().formatHex(md.digest()), bytes, start > 0);
  }

  private void awaitBody(URI uri, Path part, PartFileSink sink, long total, DownloadListener listener)
      throws IOException {
    long lastBytes = sink.position();
    long lastChange = System.nanoTime();
    while (true) {
      try {
        sink.done().get(POLL_MILLIS, TimeUnit.MILLISECONDS);
        listener.progress(sink.position(), total);
        return;
      } catch (TimeoutException e) {
        long now = System.nanoTime();
        long bytes = sink.position();
        listener.progress(bytes, total);
        if (bytes != lastBytes) {
          lastBytes = bytes;
          lastChange = now;
        } else if (now - lastChange > idleTimeout.toNanos()) {
          sink.cancel();
          throw new DownloadException(uri, -1, "no data from " + uri + " for "
              + (idleTimeout.toMillis() % 1000 == 0 ? idleTimeout.toSeconds() + " s" : idleTimeout.toMillis() + " ms")
              + " after " + bytes + " bytes; " + part + " is kept and the next attempt resumes it");
        }
      } catch (InterruptedException e) {
        sink.cancel();
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("download of " + uri + " interrupted; " + part + " is kept");
      } catch (ExecutionException e) {
        Throwable c = e.getCause();
        if (c instanceof PartFileSink.SinkException s) {
          // a local problem (disk full, size cap): the partial file stays for a later attempt
          throw new IOException("writing " + part + ": " + s.io().getMessage(), s.io());
        }
        throw new DownloadException(uri, "download of " + uri + " interrupted after " + sink.position()
            + (total >= 0 ? " of " + total : "") + " bytes (" + describe(c) + "); " + part
            + " is kept and the next attempt resumes it", c);
      }
    }
  }

  /**
   * The file next to {@code FILE.part} holding the server's validator of the file being
   * downloaded (a strong ETag, else Last-Modified), sent as If-Range when resuming.
   */
  static Path validatorFile(Path part) {
    return part.resolveSibling(part.getFileName() + ".validator");
  }

  private static java.util.Optional<String> readValidator(Path part) throws IOException {
    Path f = validatorFile(part);
    if (!Files.isRegularFile(f)) {
      return java.util.Optional.empty();
    }
    String v = Files.readString(f).strip();
    return v.isEmpty() || v.length() > 512 || v.chars().anyMatch(c -> c < 0x20) ? java.util.Optional.empty()
        : java.util.Optional.of(v);
  }

  private static void writeValidator(Path part, HttpResponse<?> resp) throws IOException {
    java.util.Optional<String> etag = resp.headers().firstValue("ETag").filter(e -> !e.startsWith("W/"));
    java.util.Optional<String> v = etag.isPresent() ? etag : resp.headers().firstValue("Last-Modified");
    Path f = validatorFile(part);
    if (v.isPresent()) {
      Files.writeString(f, v.get() + "\n");
    } else {
      Files.deleteIfExists(f);
    }
  }

  private static void deleteIfEmpty(Path part) {
    try {
      if (Files.isRegularFile(part) && Files.size(part) == 0) {
        Files.delete(part);
        Files.deleteIfExists(validatorFile(part));
      }
    } catch (IOException ignored) {
      // best effort: an empty .part is harmless
    }
  }

  private static FileChannel openPart(Path part) throws IOException {
    try {
      Files.createDirectories(part.getParent());
      return FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new IOException("cannot write the download " + part + " (" + describe(e) + ")", e);
    }
  }

  /** Fails before the transfer if the disk cannot hold the rest of the file. */
  private static void checkSpace(URI uri, Path part, long needed) throws IOException {
    if (needed <= 0) {
      return;
    }
    long free = Files.getFileStore(part).getUsableSpace();
    if (free < needed) {
      throw new DownloadException(uri, -1, "not enough disk space for " + uri + ": " + needed
          + " more bytes needed in " + part.getParent() + ", " + free + " available");
    }
  }

  private static FileLock lock(FileChannel ch, Path part) throws IOException {
    FileLock lock;
    try {
      lock = ch.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      throw new IOException("another download is writing " + part + " (it is locked); wait for it to finish");
    }
    return lock;
  }

  /** Feeds the first {@code length} bytes already on disk into the digest. */
  private static void hashPrefix(FileChannel ch, long length, MessageDigest md) throws IOException {
    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
    long pos = 0;
    while (pos < length) {
      buf.clear().limit((int) Math.min(buf.capacity(), length - pos));
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new IOException("partial download shrank while being read");
      }
      pos += n;
      md.update(buf.flip());
    }
  }

  /** Releases the connection of a response whose body is not wanted. */
  private static void discard(HttpResponse<Flow.Publisher<List<ByteBuffer>>> resp) {
    resp.body().subscribe(new Flow.Subscriber<>() {
      @Override public void onSubscribe(Flow.Subscription s) {
        s.cancel();
      }

      @Override public void onNext(List<ByteBuffer> item) {}

      @Override public void onError(Throwable t) {}

      @Override public void onComplete() {}
    });
  }

  static MessageDigest md5() {
    try {
      return MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String describe(Throwable e) {
    String m = e.getMessage();
    return e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m);
  }

  private static String mb(long bytes) {
    return String.format("%.1f MB", bytes / 1e6);
  }

  private static String reason(int status) {
    return switch (status) {
      case 401 -> " (Unauthorized)";
      case 403 -> " (Forbidden)";
      case 404 -> " (Not Found)";
      case 410 -> " (Gone)";
      case 429 -> " (Too Many Requests)";
      case 500 -> " (Internal Server Error)";
      case 502 -> " (Bad Gateway)";
      case 503 -> " (Service Unavailable)";
      case 504 -> " (Gateway Timeout)";
      default -> "";
    };
  }
}
