package org.nfnet.converters.payload;

import java.nio.ByteBuffer;

/** Small payloads that had to be decoded while parsing (e.g. a short protocol-2 latin-1 string). */
public final class MemoryPayload implements Payload {
  private final ByteBuffer bytes;

  public MemoryPayload(byte[] bytes) {
    this.bytes = ByteBuffer.wrap(bytes).asReadOnlyBuffer();
  }

  @Override
  public long length() {
    return bytes.capacity();
  }

  @Override
  public long fileOffset() {
    return -1;
  }

  @Override
  public void copyTo(ByteBuffer dst) {
    dst.put(bytes.duplicate());
  }

  @Override
  public void forEachChunk(ChunkConsumer consumer) throws java.io.IOException {
    consumer.accept(bytes.duplicate());
  }
}
