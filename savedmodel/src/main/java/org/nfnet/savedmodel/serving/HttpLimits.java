package org.nfnet.savedmodel.serving;

import java.time.Duration;

/**
 * Bounds of {@link BoundedHttpServer}; every limit answers with a status instead of a hang.
 *
 * @param maxConnections open connections served at once (each has a thread); beyond: 503
 * @param maxInFlight requests admitted past their headers at once (below maxConnections so that it
 *     is reachable); beyond: 429
 * @param maxBodyBytes request body cap; a declared larger body is refused before reading: 413
 * @param maxHeaderBytes request line + headers cap: 431
 * @param headerTimeout time allowed to send the request line and headers once a request began: 408
 * @param readTimeout longest silence while reading a body: 408
 * @param requestDeadline time allowed from the first byte of a request to its last body byte: 408
 * @param keepAliveTimeout how long an idle keep-alive connection is held open
 */
public record HttpLimits(int maxConnections, int maxInFlight, long maxBodyBytes, int maxHeaderBytes,
    Duration headerTimeout, Duration readTimeout, Duration requestDeadline, Duration keepAliveTimeout) {
  public HttpLimits {
    if (maxConnections < 1 || maxInFlight < 1 || maxBodyBytes < 1 || maxHeaderBytes < 256) {
      throw new IllegalArgumentException("HTTP limits must be positive (maxHeaderBytes >= 256): " + this);
    }
    for (Duration d : new Duration[] {headerTimeout, readTimeout, requestDeadline, keepAliveTimeout}) {
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("HTTP timeouts must be positive: " + this);
      }
    }
  }

  /** 256 connections, 32 in flight, 32 MiB bodies, 64 KiB headers, 10 s headers/reads, 60 s per request. */
  public static HttpLimits defaults() {
    return new HttpLimits(256, 32, 32L << 20, 64 << 10, Duration.ofSeconds(10), Duration.ofSeconds(10),
        Duration.ofSeconds(60), Duration.ofSeconds(30));
  }

  public HttpLimits withMaxBodyBytes(long b) {
    return new HttpLimits(maxConnections, maxInFlight, b, maxHeaderBytes, headerTimeout, readTimeout,
        requestDeadline, keepAliveTimeout);
  }

  public HttpLimits withConnections(int connections, int inFlight) {
    return new HttpLimits(connections, inFlight, maxBodyBytes, maxHeaderBytes, headerTimeout, readTimeout,
        requestDeadline, keepAliveTimeout);
  }

  public HttpLimits withTimeouts(Duration header, Duration read, Duration deadline) {
    return new HttpLimits(maxConnections, maxInFlight, maxBodyBytes, maxHeaderBytes, header, read, deadline,
        keepAliveTimeout);
  }
}
