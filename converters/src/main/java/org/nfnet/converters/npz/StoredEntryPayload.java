package org.nfnet.converters.npz;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.zip.CRC32;
import org.nfnet.converters.WeightFileException;
import org.nfnet.converters.payload.FileRegionPayload;
import org.nfnet.converters.payload.Payload;

/**
 * The array bytes of a stored (uncompressed) .npz entry, copied straight from the file like
 * {@link FileRegionPayload}, with the entry's CRC-32 checked on every copy: the CRC covers the
 * whole entry, so it is seeded with the .npy header bytes (read once, a few hundred bytes) and
 * updated with the data as it lands in the destination. A mismatch names the entry.
 */
final class StoredEntryPayload implements Payload {
  private final FileRegionPayload data;
  private final byte[] header;
  private final long expectedCrc;
  private final Path file;
  private final String entry;

  StoredEntryPayload(FileRegionPayload data, byte[] header, long expectedCrc, Path file, String entry) {
    this.data = data;
    this.header = header.clone();
    this.expectedCrc = expectedCrc;
    this.file = file;
    this.entry = entry;
  }

  @Override
  public long length() {
    return data.length();
  }

  @Override
  public long fileOffset() {
    return data.fileOffset();
  }

  @Override
  public void copyTo(ByteBuffer dst) throws IOException {
    ByteBuffer written = dst.duplicate();
    data.copyTo(dst);
    written.limit(dst.position());
    CRC32 crc = seeded();
    crc.update(written);
    check(crc.getValue(), file, entry, expectedCrc);
  }

  @Override
  public void forEachChunk(ChunkConsumer consumer) throws IOException {
    CRC32 crc = seeded();
    data.forEachChunk(chunk -> {
      crc.update(chunk.duplicate());
      consumer.accept(chunk);
    });
    check(crc.getValue(), file, entry, expectedCrc);
  }

  private CRC32 seeded() {
    CRC32 crc = new CRC32();
    crc.update(header);
    return crc;
  }

  /** Fails naming the entry when the computed CRC-32 differs from the central directory's. */
  static void check(long actual, Path file, String entry, long expected) {
    if (actual != expected) {
      throw new WeightFileException(file, "zip entry '" + entry + "': CRC-32 of its data is "
          + String.format("%08x", actual) + " but the archive records " + String.format("%08x", expected)
          + "; the .npz is corrupt (re-download or re-create it)");
    }
  }
}
