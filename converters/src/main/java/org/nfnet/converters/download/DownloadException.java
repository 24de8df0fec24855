package org.nfnet.converters.download;

import java.io.IOException;
import java.net.URI;

/** A download failed; the message names the URL and, for HTTP errors, the status. */
public final class DownloadException extends IOException {
  private final URI uri;
  private final int status;

  DownloadException(URI uri, int status, String message) {
    super(message);
    this.uri = uri;
    this.status = status;
  }

  DownloadException(URI uri, String message, Throwable cause) {
    super(message, cause);
    this.uri = uri;
    this.status = -1;
  }

  public URI uri() {
    return uri;
  }

  /** The HTTP status, or -1 if the failure was not an HTTP error status. */
  public int status() {
    return status;
  }
}
