package org.nfnet.converters.npz;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import org.nfnet.converters.WeightFileException;
import org.nfnet.converters.payload.ChunkBuffers;
import org.nfnet.converters.payload.Payload;

/**
 * The array bytes of a deflated .npz entry ({@code np.savez_compressed}). Nothing is kept between
 * copies: each copy inflates the entry again from the file, skipping the .npy header, with direct
 * input and output buffers so the data never passes through the Java heap. Every copy checks the
 * entry's CRC-32 over all inflated bytes (header included) and that the stream inflates to exactly
 * the recorded size; a mismatch names the entry.
 */
final class DeflatedEntryPayload implements Payload {
  private final FileChannel channel;
  private final long compressedOffset;
  private final long compressedLength;
  private final long skip;
  private final long length;
  private final Check check;

  /** What the central directory records for the entry: CRC-32 and name (for the message). */
  record Check(long crc, java.nio.file.Path file, String entry) {}

  DeflatedEntryPayload(FileChannel channel, long compressedOffset, long compressedLength, long skip,
      long length, Check check) {
    this.channel = channel;
    this.compressedOffset = compressedOffset;
    this.compressedLength = compressedLength;
    this.skip = skip;
    this.length = length;
    this.check = check;
  }

  @Override
  public long length() {
    return length;
  }

  @Override
  public void forEachChunk(ChunkConsumer consumer) throws IOException {
    inflate(channel, compressedOffset, compressedLength, skip, length, consumer, check);
  }

  static void inflate(FileChannel ch, long offset, long compressedLength, long skip, long length,
      ChunkConsumer consumer) throws IOException {
    inflate(ch, offset, compressedLength, skip, length, consumer, null);
  }

  /**
   * Inflates a raw-deflate stream, drops the first {@code skip} bytes and hands the next
   * {@code length} bytes to the consumer in chunks (all but the last a multiple of 8 long). With a
   * {@code check}, {@code skip + length} is the whole entry: its CRC-32 is verified and the stream
   * must end there.
   */
  static void inflate(FileChannel ch, long offset, long compressedLength, long skip, long length,
      ChunkConsumer consumer, Check check) throws IOException {
    Inflater inflater = new Inflater(true);
    java.util.zip.CRC32 crc = check == null ? null : new java.util.zip.CRC32();
    try {
      ByteBuffer in = ChunkBuffers.get(0, (int) Math.min(CHUNK, Math.max(compressedLength, 1)));
      ByteBuffer out = ChunkBuffers.get(1, CHUNK);
      long readPos = offset;
      long end = offset + compressedLength;
      long toSkip = skip;
      long toEmit = length;
      while (toEmit > 0 || (crc != null && toSkip > 0)) {
        if (inflater.needsInput()) {
          if (readPos >= end) {
            throw new IOException("deflated entry ends after " + (length - toEmit) + " of " + length + " bytes");
          }
          in.clear();
          in.limit((int) Math.min(in.capacity(), end - readPos));
          int n = ch.read(in, readPos);
          if (n < 0) {
            throw new IOException("file ended at offset " + readPos + " inside a deflated entry");
          }
          readPos += n;
          in.flip();
          inflater.setInput(in);
        }
        int produced = inflater.inflate(out);
        if (produced == 0 && (inflater.finished() || inflater.needsDictionary())) {
          throw new IOException("deflated entry ends after " + (length - toEmit) + " of " + length + " bytes");
        }
        if (out.hasRemaining() && !inflater.finished()) {
          continue; // fill the chunk completely so chunk lengths stay multiples of 8
        }
        out.flip();
        if (crc != null) {
          ByteBuffer covered = out.duplicate();
          covered.limit((int) Math.min(covered.limit(), toSkip + toEmit));
          crc.update(covered);
          if (out.remaining() > toSkip + toEmit) {
            throw sizeMismatch(check, skip + length);
          }
        }
        if (toSkip > 0) {
          int s = (int) Math.min(toSkip, out.remaining());
          out.position(out.position() + s);
          toSkip -= s;
        }
        if (out.remaining() > toEmit) {
          out.limit(out.position() + (int) toEmit);
        }
        if (out.hasRemaining()) {
          toEmit -= out.remaining();
          consumer.accept(out);
        }
        out.clear();
        if (inflater.finished() && toEmit > 0) {
          throw new IOException("deflated entry ends after " + (length - toEmit) + " of " + length + " bytes");
        }
      }
      if (check != null) {
        if (!inflater.finished()) {
          out.clear();
          if (inflater.needsInput() && readPos < end) {
            in.clear();
            in.limit((int) Math.min(in.capacity(), end - readPos));
            int n = ch.read(in, readPos);
            in.flip();
            if (n > 0) {
              inflater.setInput(in);
            }
          }
          if (inflater.inflate(out) > 0) {
            throw sizeMismatch(check, skip + length);
          }
        }
        StoredEntryPayload.check(crc.getValue(), check.file(), check.entry(), check.crc());
      }
    } catch (DataFormatException e) {
      throw new IOException("corrupt deflate data: " + e.getMessage(), e);
    } finally {
      inflater.end();
    }
  }

  private static WeightFileException sizeMismatch(Check check, long size) {
    return new WeightFileException(check.file(), "zip entry '" + check.entry() + "' inflates to more than"
        + " the " + size + " bytes the archive records; the .npz is corrupt");
  }
}
