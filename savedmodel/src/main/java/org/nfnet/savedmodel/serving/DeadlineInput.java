package org.nfnet.savedmodel.serving;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/** Socket input with a per-read timeout and an overall deadline. */
final class DeadlineInput extends InputStream {
  private final Socket socket;
  private final InputStream raw;
  private final byte[] buf = new byte[16 << 10];
  private int pos;
  private int lim;
  private long deadline;
  private long idleMillis;

  DeadlineInput(Socket socket) throws IOException {
    this.socket = socket;
    this.raw = socket.getInputStream();
  }

  void deadline(long atMillis, long idle) {
    this.deadline = atMillis;
    this.idleMillis = idle;
  }

  private boolean fill() throws IOException {
    long left = deadline - System.currentTimeMillis();
    if (left <= 0) {
      throw new SocketTimeoutException("deadline passed");
    }
    socket.setSoTimeout((int) Math.max(1, Math.min(left, idleMillis)));
    int r = raw.read(buf, 0, buf.length);
    if (r < 0) {
      return false;
    }
    pos = 0;
    lim = r;
    return true;
  }

  int peek() throws IOException {
    if (pos < lim || fill()) {
      return buf[pos] & 0xff;
    }
    return -1;
  }

  @Override
  public int read() throws IOException {
    if (pos < lim || fill()) {
      return buf[pos++] & 0xff;
    }
    return -1;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    if (pos >= lim && !fill()) {
      return -1;
    }
    int n = Math.min(len, lim - pos);
    System.arraycopy(buf, pos, b, off, n);
    pos += n;
    return n;
  }

  /** A CRLF (or LF) terminated ISO-8859-1 line of at most {@code max} bytes. */
  String readLine(int max) throws IOException, HttpStatusException {
    StringBuilder sb = new StringBuilder();
    while (true) {
      int b = read();
      if (b < 0) {
        throw new SocketException("connection closed mid-request");
      }
      if (b == '\n') {
        int n = sb.length();
        return n > 0 && sb.charAt(n - 1) == '\r' ? sb.substring(0, n - 1) : sb.toString();
      }
      if (sb.length() >= max) {
        throw new HttpStatusException(431, "request line and headers exceed " + max + " bytes");
      }
      sb.append((char) b);
    }
  }
}
