package org.nfnet.savedmodel.serving;

/** A request that is answered with an HTTP error status and {@code {"error": message}}. */
public final class HttpStatusException extends Exception {
  private final int status;

  public HttpStatusException(int status, String message) {
    super(message);
    this.status = status;
  }

  public int status() {
    return status;
  }
}
