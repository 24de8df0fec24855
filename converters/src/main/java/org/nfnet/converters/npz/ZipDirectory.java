package org.nfnet.converters.npz;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.nfnet.converters.WeightFileException;

/**
 * The central directory of a zip file, read positionally (zip64 included), giving for every entry
 * the position of its data in the file. {@code java.util.zip.ZipFile} does not expose that
 * position, and we need it to copy stored .npz entries straight from the file.
 */
final class ZipDirectory {
  private static final int EOCD = 0x06054b50;
  private static final int ZIP64_LOCATOR = 0x07064b50;
  private static final int ZIP64_EOCD = 0x06064b50;
  private static final int CENTRAL = 0x02014b50;
  private static final int LOCAL = 0x04034b50;
  /** Enough for every NFNet variant (F7+ has ~1500 arrays) with a wide margin. */
  static final long MAX_ENTRIES = 65_536;
  /** A central directory entry is at least 46 bytes; names of weight entries are short. */
  private static final int MIN_CENTRAL = 46;
  static final long MAX_DIRECTORY_BYTES = 32L << 20;

  /**
   * One entry: name, compression method (0 stored, 8 deflated), sizes, offset of its data, CRC-32,
   * and the offset of its local header.
   */
  record Entry(String name, int method, long compressedSize, long size, long dataOffset, long crc,
      long localOffset) {}

  private ZipDirectory() {}

  static List<Entry> read(FileChannel ch, Path file) throws IOException {
    long size = ch.size();
    int tailLen = (int) Math.min(size, 22 + 65535);
    ByteBuffer tail = readAt(ch, file, size - tailLen, tailLen);
    int eocd = -1;
    for (int p = tailLen - 22; p >= 0; p--) {
      if (tail.getInt(p) == EOCD) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) {
      throw new WeightFileException(file, "zip archive has no end-of-central-directory record"
          + " (truncated or not a zip)");
    }
    long eocdOffset = size - tailLen + eocd;
    long count = tail.getShort(eocd + 10) & 0xFFFF;
    long cdSize = tail.getInt(eocd + 12) & 0xFFFFFFFFL;
    long cdOffset = tail.getInt(eocd + 16) & 0xFFFFFFFFL;
    if (count == 0xFFFF || cdSize == 0xFFFFFFFFL || cdOffset == 0xFFFFFFFFL) {
      if (eocdOffset < 20) {
        throw new WeightFileException(file, eocdOffset, "zip64 archive without a zip64 locator");
      }
      ByteBuffer loc = readAt(ch, file, eocdOffset - 20, 20);
      if (loc.getInt(0) != ZIP64_LOCATOR) {
        throw new WeightFileException(file, eocdOffset - 20, "zip64 archive without a zip64 locator");
      }
      long z64 = loc.getLong(8);
      if (z64 < 0 || z64 > eocdOffset - 20 - 56) {
        throw new WeightFileException(file, eocdOffset - 20, "zip64 locator field 'offset of the zip64"
            + " end-of-central-directory record' is " + Long.toUnsignedString(z64) + ", outside the "
            + size + "-byte file");
      }
      ByteBuffer rec = readAt(ch, file, z64, 56);
      if (rec.getInt(0) != ZIP64_EOCD) {
        throw new WeightFileException(file, z64, "bad zip64 end-of-central-directory record");
      }
      count = zip64Field(file, z64, rec.getLong(32), "total number of entries");
      cdSize = zip64Field(file, z64, rec.getLong(40), "size of the central directory");
      cdOffset = zip64Field(file, z64, rec.getLong(48), "offset of the central directory");
    }
    // Bounds first, from the file size, before anything is allocated or read.
    if (count > MAX_ENTRIES) {
      throw new WeightFileException(file, eocdOffset, "zip central directory claims " + count
          + " entries; more than " + MAX_ENTRIES + " is not a weight archive");
    }
    if (cdSize > size || cdOffset > size - cdSize) {
      throw new WeightFileException(file, eocdOffset, "zip central directory (offset " + cdOffset
          + ", size " + cdSize + ") lies outside the " + size + "-byte file (truncated archive?)");
    }
    if (cdSize > MAX_DIRECTORY_BYTES) {
      throw new WeightFileException(file, eocdOffset, "zip central directory of " + cdSize
          + " bytes; more than " + MAX_DIRECTORY_BYTES + " is not a weight archive");
    }
    if (count * MIN_CENTRAL > cdSize) {
      throw new WeightFileException(file, eocdOffset, "zip central directory claims " + count
          + " entries but its " + cdSize + " bytes hold at most " + cdSize / MIN_CENTRAL);
    }
    ByteBuffer cd = readAt(ch, file, cdOffset, (int) cdSize);
    List<Entry> entries = new ArrayList<>();
    int p = 0;
    for (long n = 0; n < count; n++) {
      if (p + 46 > cd.limit() || cd.getInt(p) != CENTRAL) {
        throw new WeightFileException(file, cdOffset + p, "corrupt zip central directory entry " + n);
      }
      int flags = cd.getShort(p + 8) & 0xFFFF;
      int method = cd.getShort(p + 10) & 0xFFFF;
      long crc = cd.getInt(p + 16) & 0xFFFFFFFFL;
      long csize = cd.getInt(p + 20) & 0xFFFFFFFFL;
      long usize = cd.getInt(p + 24) & 0xFFFFFFFFL;
      int nameLen = cd.getShort(p + 28) & 0xFFFF;
      int extraLen = cd.getShort(p + 30) & 0xFFFF;
      int commentLen = cd.getShort(p + 32) & 0xFFFF;
      long local = cd.getInt(p + 42) & 0xFFFFFFFFL;
      if (p + 46 + nameLen + extraLen + commentLen > cd.limit()) {
        throw new WeightFileException(file, cdOffset + p, "corrupt zip central directory entry " + n);
      }
      byte[] nameBytes = new byte[nameLen];
      cd.get(p + 46, nameBytes);
      String name = new String(nameBytes, (flags & 0x800) != 0 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
      // zip64 extra field: the 64-bit values of exactly those fields that are 0xFFFFFFFF
      int e = p + 46 + nameLen;
      int eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        int id = cd.getShort(e) & 0xFFFF;
        int len = cd.getShort(e + 2) & 0xFFFF;
        int q = e + 4;
        if (id == 0x0001) {
          if (usize == 0xFFFFFFFFL && q + 8 <= e + 4 + len) {
            usize = cd.getLong(q);
            q += 8;
          }
          if (csize == 0xFFFFFFFFL && q + 8 <= e + 4 + len) {
            csize = cd.getLong(q);
            q += 8;
          }
          if (local == 0xFFFFFFFFL && q + 8 <= e + 4 + len) {
            local = cd.getLong(q);
          }
        }
        e += 4 + len;
      }
      if (usize < 0 || csize < 0 || local < 0) {
        throw new WeightFileException(file, cdOffset + p, "zip64 extra field of entry '" + name + "': "
            + (usize < 0 ? "uncompressed size" : csize < 0 ? "compressed size" : "local header offset")
            + " is " + Long.toUnsignedString(usize < 0 ? usize : csize < 0 ? csize : local)
            + ", beyond 2^63 (corrupt or hostile archive)");
      }
      if ((flags & 1) != 0) {
        throw new WeightFileException(file, cdOffset + p, "zip entry '" + name + "' is encrypted");
      }
      if (local < 0 || local > size - 30) {
        throw new WeightFileException(file, cdOffset + p, "zip entry '" + name + "' starts outside the file");
      }
      ByteBuffer lh = readAt(ch, file, local, 30);
      if (lh.getInt(0) != LOCAL) {
        throw new WeightFileException(file, local, "zip entry '" + name + "' has no local header");
      }
      long data = local + 30 + (lh.getShort(26) & 0xFFFF) + (lh.getShort(28) & 0xFFFF);
      if (csize < 0 || data > size || csize > size - data) {
        throw new WeightFileException(file, local, "zip entry '" + name + "' extends past the end of"
            + " the file (truncated archive?)");
      }
      if (data + csize > cdOffset) {
        throw new WeightFileException(file, local, "zip entry '" + name + "' (bytes " + local + "-"
            + (data + csize) + ") overlaps the central directory at offset " + cdOffset);
      }
      entries.add(new Entry(name, method, csize, usize, data, crc, local));
      p += 46 + nameLen + extraLen + commentLen;
    }
    rejectOverlaps(entries, file);
    return entries;
  }

  /**
   * Entries of a well-formed archive never share bytes; overlapping ones are how "zip bombs" make
   * a small file expand to many entries of the same data.
   */
  private static void rejectOverlaps(List<Entry> entries, Path file) {
    List<Entry> byOffset = new ArrayList<>(entries);
    byOffset.sort(java.util.Comparator.comparingLong(Entry::localOffset));
    for (int i = 1; i < byOffset.size(); i++) {
      Entry a = byOffset.get(i - 1);
      Entry b = byOffset.get(i);
      long aEnd = a.dataOffset() + a.compressedSize();
      if (b.localOffset() < aEnd) {
        throw new WeightFileException(file, b.localOffset(), "zip entries '" + a.name() + "' (bytes "
            + a.localOffset() + "-" + aEnd + ") and '" + b.name() + "' (from byte " + b.localOffset()
            + ") overlap; a well-formed archive never shares bytes between entries");
      }
    }
  }

  private static long zip64Field(Path file, long at, long value, String field) {
    if (value < 0) {
      throw new WeightFileException(file, at, "zip64 end-of-central-directory field '" + field + "' is "
          + Long.toUnsignedString(value) + ", beyond 2^63 (corrupt or hostile archive)");
    }
    return value;
  }

  static ByteBuffer readAt(FileChannel ch, Path file, long pos, int len) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
    long p = pos;
    while (b.hasRemaining()) {
      int n = ch.read(b, p);
      if (n < 0) {
        throw new WeightFileException(file, p, "file ends early (truncated?)");
      }
      p += n;
    }
    b.flip();
    return b;
  }
}
