package org.nfnet.converters;

import java.nio.file.Path;

/**
 * A weight file that cannot be read or is refused. The message always names the file and, where
 * it applies, the byte offset and the parameter, so a user can act on it without a stack trace.
 */
public class WeightFileException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;
  private final long offset;

  public WeightFileException(Path file, String message) {
    this(file, -1, message, null);
  }

  public WeightFileException(Path file, long offset, String message) {
    this(file, offset, message, null);
  }

  public WeightFileException(Path file, long offset, String message, Throwable cause) {
    super((file != null && file.toString().isEmpty() ? "\"\"" : String.valueOf(file))
        + (offset >= 0 ? " (offset " + offset + ")" : "") + ": " + message, cause);
    this.file = file;
    this.offset = offset;
  }

  /** The file the problem is in. */
  public Path file() {
    return file;
  }

  /** Byte offset of the problem in the file, or -1 when it has no single position. */
  public long offset() {
    return offset;
  }
}
