package org.nfnet.savedmodel;

/**
 * One unusable input image: not a regular file, too many bytes, too many pixels, too small, not a
 * JPEG/PNG/GIF/BMP, or unreadable. The message names the source (a file or "instance 3") and the
 * reason; callers that process many images report it and carry on with the next one.
 */
public final class BadImageException extends IllegalArgumentException {
  private final String source;
  private final String reason;

  public BadImageException(String source, String reason) {
    this(source, reason, null);
  }

  public BadImageException(String source, String reason, Throwable cause) {
    super(source == null || source.isEmpty() ? reason : source + ": " + reason, cause);
    this.source = source == null ? "" : source;
    this.reason = reason;
  }

  /** The file or request element the image came from ("" when unnamed). */
  public String source() {
    return source;
  }

  /** Why it was refused, without the source. */
  public String reason() {
    return reason;
  }
}
