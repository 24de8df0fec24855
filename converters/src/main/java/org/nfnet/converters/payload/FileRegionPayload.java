package org.nfnet.converters.payload;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Bytes stored verbatim at a known file position (pickle BINBYTES payloads, stored .npz entries).
 * {@link #copyTo} is a positional {@code FileChannel.read} into the destination: with a direct
 * destination buffer that is a single copy from the page cache, no Java heap involved.
 */
public final class FileRegionPayload implements Payload {
  private final FileChannel channel;
  private final long offset;
  private final long length;

  public FileRegionPayload(FileChannel channel, long offset, long length) {
    this.channel = channel;
    this.offset = offset;
    this.length = length;
  }

  @Override
  public long length() {
    return length;
  }

  @Override
  public long fileOffset() {
    return offset;
  }

  @Override
  public void copyTo(ByteBuffer dst) throws IOException {
    if (dst.remaining() < length) {
      throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes left, need " + length);
    }
    ByteBuffer view = dst.slice();
    view.limit((int) length);
    readFully(view, offset);
    dst.position(dst.position() + (int) length);
  }

  @Override
  public void forEachChunk(ChunkConsumer consumer) throws IOException {
    ByteBuffer chunk = ChunkBuffers.get(0, (int) Math.min(CHUNK, Math.max(length, 1)));
    long done = 0;
    while (done < length) {
      chunk.clear();
      chunk.limit((int) Math.min(chunk.capacity(), length - done));
      readFully(chunk, offset + done);
      chunk.flip();
      done += chunk.remaining();
      consumer.accept(chunk);
    }
  }

  private void readFully(ByteBuffer dst, long pos) throws IOException {
    while (dst.hasRemaining()) {
      int n = channel.read(dst, pos);
      if (n < 0) {
        throw new EOFException("file ended at offset " + pos + " inside an array payload");
      }
      pos += n;
    }
  }
}
