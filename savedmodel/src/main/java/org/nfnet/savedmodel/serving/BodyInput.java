package org.nfnet.savedmodel.serving;

import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;

/** A request body (Content-Length or chunked) that never yields more than the cap. */
final class BodyInput extends InputStream {
  static final long CHUNKED = -1;

  /** The body outgrew the cap while being read (chunked, or a lying Content-Length never happens). */
  static final class TooLarge extends IOException {
    TooLarge(String m) {
      super(m);
    }
  }

  private final DeadlineInput in;
  private final boolean chunked;
  private final long cap;
  private long remaining; // in the current chunk, or of the whole body
  private long total;
  private boolean done;

  BodyInput(DeadlineInput in, long declared, long cap) {
    this.in = in;
    this.chunked = declared == CHUNKED;
    this.cap = cap;
    this.remaining = chunked ? 0 : declared;
    this.done = !chunked && declared == 0;
  }

  private boolean ready() throws IOException {
    if (done) {
      return false;
    }
    if (remaining > 0) {
      return true;
    }
    if (!chunked) {
      done = true;
      return false;
    }
    if (total > 0) {
      expectCrlf();
    }
    String line = line();
    int semi = line.indexOf(';');
    long size;
    try {
      size = Long.parseLong((semi < 0 ? line : line.substring(0, semi)).trim(), 16);
    } catch (NumberFormatException e) {
      throw new SocketException("malformed chunk size '" + line + "'");
    }
    if (size < 0 || total + size > cap) {
      throw new TooLarge("request body exceeds the limit of " + cap + " bytes");
    }
    if (size == 0) {
      while (!line().isEmpty()) {
        // trailer fields are read and ignored
      }
      done = true;
      return false;
    }
    remaining = size;
    return true;
  }

  private void expectCrlf() throws IOException {
    if (!line().isEmpty()) {
      throw new SocketException("malformed chunked body");
    }
  }

  private String line() throws IOException {
    try {
      return in.readLine(1024);
    } catch (HttpStatusException e) {
      throw new SocketException("chunk header too long");
    }
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    if (!ready()) {
      return -1;
    }
    int r = in.read(b, off, (int) Math.min(len, remaining));
    if (r < 0) {
      throw new SocketException("connection closed with " + remaining + " body bytes missing");
    }
    remaining -= r;
    total += r;
    return r;
  }

  /** Reads what the handler left unread; false when the connection cannot be reused. */
  boolean drainQuietly() {
    try {
      byte[] buf = new byte[8192];
      while (read(buf, 0, buf.length) >= 0) {
        // discard
      }
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
