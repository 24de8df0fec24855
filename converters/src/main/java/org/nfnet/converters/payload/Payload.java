package org.nfnet.converters.payload;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The raw bytes of one array, wherever they live. Implementations never hold the bytes on the Java
 * heap: they copy from the file (or an inflater) straight into the caller's buffer, which is
 * normally a direct buffer that backs a TensorFlow tensor.
 */
public interface Payload {
  /** Chunk size for streaming copies. */
  int CHUNK = 1 << 20;

  /** Number of raw bytes. */
  long length();

  /** Offset of the first raw byte in the file, or -1 if the bytes are not stored verbatim there. */
  default long fileOffset() {
    return -1;
  }

  /** Copies all {@link #length()} bytes into {@code dst} at its position, advancing it. */
  default void copyTo(ByteBuffer dst) throws IOException {
    forEachChunk(dst::put);
  }

  /**
   * Feeds the bytes in order as consecutive chunks of any length (an element may straddle two
   * chunks). The chunk is only valid during the call.
   */
  void forEachChunk(ChunkConsumer consumer) throws IOException;

  @FunctionalInterface
  interface ChunkConsumer {
    void accept(ByteBuffer chunk) throws IOException;
  }
}
