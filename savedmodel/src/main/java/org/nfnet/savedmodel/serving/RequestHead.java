package org.nfnet.savedmodel.serving;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Request line and headers. */
final class RequestHead {
  private String method;
  private String path;
  private String version;
  private final Map<String, String> headers = new LinkedHashMap<>();

  String method() {
    return method;
  }

  String path() {
    return path;
  }

  /** Header names in lower case; repeated headers joined with ", ". */
  Map<String, String> headers() {
    return headers;
  }

  static RequestHead read(DeadlineInput in, int maxBytes) throws IOException, HttpStatusException {
    RequestHead h = new RequestHead();
    String line = in.readLine(maxBytes);
    String[] parts = line.split(" ");
    if (parts.length != 3 || !parts[2].startsWith("HTTP/1.")) {
      throw new HttpStatusException(400, "malformed request line");
    }
    h.method = parts[0];
    h.path = parts[1];
    h.version = parts[2];
    int used = line.length();
    while (true) {
      String l = in.readLine(maxBytes - used);
      used += l.length() + 2;
      if (l.isEmpty()) {
        return h;
      }
      int colon = l.indexOf(':');
      if (colon <= 0) {
        throw new HttpStatusException(400, "malformed header line");
      }
      String name = l.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = l.substring(colon + 1).trim();
      if (h.headers.containsKey(name) && name.equals("content-length")
          && !h.headers.get(name).equals(value)) {
        throw new HttpStatusException(400, "conflicting Content-Length headers");
      }
      h.headers.merge(name, value, (a, b) -> a + ", " + b);
    }
  }

  boolean keepAlive() {
    String conn = headers.getOrDefault("connection", "").toLowerCase(Locale.ROOT);
    return version.equals("HTTP/1.1") ? !conn.contains("close") : conn.contains("keep-alive");
  }

  boolean expectsContinue() {
    return headers.getOrDefault("expect", "").equalsIgnoreCase("100-continue");
  }

  /** The declared length, {@link BodyInput#CHUNKED} for chunked bodies, 0 for none. */
  long contentLength() throws HttpStatusException {
    String te = headers.get("transfer-encoding");
    String cl = headers.get("content-length");
    if (te != null) {
      if (cl != null) {
        throw new HttpStatusException(400, "both Content-Length and Transfer-Encoding given");
      }
      if (!te.equalsIgnoreCase("chunked")) {
        throw new HttpStatusException(501, "unsupported Transfer-Encoding " + te);
      }
      return BodyInput.CHUNKED;
    }
    if (cl == null) {
      return 0;
    }
    try {
      long n = Long.parseLong(cl);
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new HttpStatusException(400, "bad Content-Length '" + cl + "'");
    }
  }
}
