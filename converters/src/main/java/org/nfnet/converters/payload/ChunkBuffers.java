package org.nfnet.converters.payload;

import java.nio.ByteBuffer;

/**
 * Per-thread direct buffers of {@link Payload#CHUNK} bytes for streaming payload copies (inflating,
 * decoding, converting dtypes), reused from one array to the next.
 *
 * <p>Why not allocate per copy: a direct buffer's native memory is only freed after the GC has
 * collected the buffer object, and a conversion allocates little on the Java heap, so a fresh 1-2 MB
 * buffer per array (deflated .npz entries, non-float32 or big-endian data; F6 has ~600 arrays)
 * could pile up as resident garbage next to the model. Two slots per thread, because inflating
 * needs an input and an output buffer at once; a chunk is only valid during the consumer call, so a
 * slot is free again when the copy that took it returns (copies do not nest).
 */
public final class ChunkBuffers {
  private static final ThreadLocal<ByteBuffer[]> SLOTS =
      ThreadLocal.withInitial(() -> new ByteBuffer[2]);

  private ChunkBuffers() {}

  /** Slot {@code i} (0 or 1) of this thread, cleared, limited to {@code size <= CHUNK} bytes. */
  public static ByteBuffer get(int i, int size) {
    if (size > Payload.CHUNK) {
      throw new IllegalArgumentException("chunk of " + size + " bytes exceeds " + Payload.CHUNK);
    }
    ByteBuffer[] slots = SLOTS.get();
    if (slots[i] == null) {
      slots[i] = ByteBuffer.allocateDirect(Payload.CHUNK);
    }
    ByteBuffer b = slots[i].clear();
    b.limit(size);
    return b.slice();
  }
}
