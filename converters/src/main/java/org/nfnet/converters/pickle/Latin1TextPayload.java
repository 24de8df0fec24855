package org.nfnet.converters.pickle;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.nfnet.converters.payload.ChunkBuffers;
import org.nfnet.converters.payload.Payload;

/**
 * Protocol 2 has no bytes opcode, so Python 3 pickles {@code bytes} as
 * {@code _codecs.encode(str, 'latin1')}: each byte becomes one code point U+0000..U+00FF, stored
 * UTF-8 encoded (one or two bytes each). This payload decodes that text straight from the file on
 * every copy instead of keeping a decoded copy, so protocol-2 files stream like the others.
 */
final class Latin1TextPayload implements Payload {
  private final FileChannel channel;
  private final long textOffset;
  private final long textLength;
  private final long length;

  private Latin1TextPayload(FileChannel channel, long textOffset, long textLength, long length) {
    this.channel = channel;
    this.textOffset = textOffset;
    this.textLength = textLength;
    this.length = length;
  }

  /**
   * Scans the UTF-8 text once to count its code points and to check every one is below U+0100.
   *
   * @throws IllegalArgumentException naming the first offending offset
   */
  static Latin1TextPayload of(FileChannel channel, long textOffset, long textLength) throws IOException {
    long[] count = {0};
    decode(channel, textOffset, textLength, chunk -> count[0] += chunk.remaining());
    return new Latin1TextPayload(channel, textOffset, textLength, count[0]);
  }

  @Override
  public long length() {
    return length;
  }

  @Override
  public void forEachChunk(ChunkConsumer consumer) throws IOException {
    decode(channel, textOffset, textLength, consumer);
  }

  private static void decode(FileChannel ch, long offset, long len, ChunkConsumer out) throws IOException {
    ByteBuffer in = ByteBuffer.allocate(CHUNK);
    ByteBuffer decoded = ChunkBuffers.get(1, CHUNK);
    long pos = offset;
    long end = offset + len;
    int pendingLead = -1; // first byte of a two-byte sequence split across reads
    while (pos < end) {
      in.clear();
      in.limit((int) Math.min(in.capacity(), end - pos));
      int n = ch.read(in, pos);
      if (n < 0) {
        throw new EOFException("file ended at offset " + pos + " inside a latin-1 string");
      }
      in.flip();
      byte[] a = in.array();
      for (int i = 0; i < n; i++) {
        int b = a[i] & 0xFF;
        int cp;
        if (pendingLead >= 0) {
          if ((b & 0xC0) != 0x80) {
            throw new IllegalArgumentException("invalid UTF-8 at offset " + (pos + i));
          }
          cp = ((pendingLead & 0x1F) << 6) | (b & 0x3F);
          pendingLead = -1;
        } else if (b < 0x80) {
          cp = b;
        } else if (b == 0xC2 || b == 0xC3) {
          pendingLead = b;
          continue;
        } else {
          throw new IllegalArgumentException("byte string text has a character above U+00FF or invalid "
              + "UTF-8 at offset " + (pos + i) + "; not a latin-1 encoded byte string");
        }
        decoded.put((byte) cp);
        if (!decoded.hasRemaining()) {
          decoded.flip();
          out.accept(decoded);
          decoded.clear();
        }
      }
      pos += n;
    }
    if (pendingLead >= 0) {
      throw new IllegalArgumentException("UTF-8 text ends inside a character at offset " + end);
    }
    decoded.flip();
    if (decoded.hasRemaining()) {
      out.accept(decoded);
    }
  }
}
