package org.nfnet.converters;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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
  private static final long MAX_ENTRIES = 1_000_000;

  /** One entry: name, compression method (0 stored, 8 deflated), sizes, offset of its data. */
  record Entry(String name, int method, long compressedSize, long size, long dataOffset) {}

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
      ByteBuffer rec = readAt(ch, file, z64, 56);
      if (rec.getInt(0) != ZIP64_EOCD) {
        throw new WeightFileException(file, z64, "bad zip64 end-of-central-directory record");
      }
      count = rec.getLong(32);
      cdSize = rec.getLong(40);
      cdOffset = rec.getLong(48);
    }
    if (count < 0 || count > MAX_ENTRIES || cdOffset < 0 || cdSize < 0 || cdSize > size
        || cdOffset > size - cdSize) {
      throw new WeightFileException(file, eocdOffset, "zip central directory lies outside the file"
          + " (truncated archive?)");
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
      entries.add(new Entry(name, method, csize, usize, data));
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
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
