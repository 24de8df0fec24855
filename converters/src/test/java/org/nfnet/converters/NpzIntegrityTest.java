package org.nfnet.converters;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * .npz integrity (issue 14): CRC-32 and sizes checked for every entry while its data is copied,
 * and hostile central directories (overlapping entries, absurd counts and sizes, negative zip64
 * fields) refused by name before anything large is allocated or read.
 */
class NpzIntegrityTest {
  @TempDir
  Path dir;

  private static final String KEY = "NFNet/~/stem_conv0/w";

  private static WeightFileException copyFails(Path f) {
    try (HaikuParams p = WeightFileReader.read(f)) {
      return assertThrows(WeightFileException.class, () -> p.get(KEY).toFloatArray());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static WeightFileException refused(Path f) {
    return assertThrows(WeightFileException.class, () -> WeightFileReader.read(f).close());
  }

  @Test
  void aFlippedBitInAStoredEntryIsCaughtNamingTheEntry() throws Exception {
    Path f = Files.copy(TestFiles.resource("tiny_stored.npz"), dir.resolve("flip.npz"));
    long offset;
    float[] good;
    try (HaikuParams p = WeightFileReader.read(f)) {
      offset = p.get(KEY).fileOffset();
      good = p.get(KEY).toFloatArray();
    }
    flipBit(f, offset + 9, 0x01); // low mantissa bit of element 2: a tiny, otherwise silent change
    WeightFileException e = copyFails(f);
    assertTrue(e.getMessage().contains("zip entry '" + KEY + ".npy': CRC-32"), e.getMessage());
    assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    // the untouched entries still read, and so does the original
    try (HaikuParams p = WeightFileReader.read(TestFiles.resource("tiny_stored.npz"))) {
      assertArrayEquals(good, p.get(KEY).toFloatArray());
    }
  }

  @Test
  void aFlippedBitInADeflatedEntryIsCaught() throws Exception {
    // level 0: deflate "stored" blocks, so the flipped bit inflates fine and only the CRC sees it
    Path f = dir.resolve("deflated.npz");
    byte[] npy = npy(new float[] {1f, 2f, 3f, 4f});
    try (OutputStream os = Files.newOutputStream(f); ZipOutputStream z = new ZipOutputStream(os)) {
      z.setLevel(0);
      z.putNextEntry(new ZipEntry(KEY + ".npy"));
      z.write(npy);
      z.closeEntry();
    }
    try (HaikuParams p = WeightFileReader.read(f)) {
      assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, p.get(KEY).toFloatArray());
    }
    byte[] all = Files.readAllBytes(f);
    int at = indexOf(all, npy, 0) + npy.length - 2; // inside the last float's bytes
    flipBit(f, at, 0x10);
    WeightFileException e = copyFails(f);
    assertTrue(e.getMessage().contains("zip entry '" + KEY + ".npy': CRC-32"), e.getMessage());
  }

  @Test
  void aDeflatedEntryLongerThanRecordedIsCaught() throws Exception {
    // The deflate stream holds the .npy plus 8 more bytes; the directory records the .npy's size
    // and CRC, so shapes agree and only the size check sees the extra data.
    byte[] npy = npy(new float[] {1f, 2f, 3f, 4f});
    byte[] longer = java.util.Arrays.copyOf(npy, npy.length + 8);
    java.util.zip.Deflater d = new java.util.zip.Deflater(6, true);
    d.setInput(longer);
    d.finish();
    byte[] buf = new byte[4096];
    int n = d.deflate(buf);
    d.end();
    ZipBytes z = new ZipBytes().entry(KEY + ".npy", java.util.Arrays.copyOf(buf, n));
    z.method = 8;
    z.recordedSize = npy.length;
    CRC32 crc = new CRC32();
    crc.update(npy);
    z.recordedCrc = crc.getValue();
    Path f = z.write(dir.resolve("longer.npz"));
    WeightFileException e = copyFails(f);
    assertTrue(e.getMessage().contains("zip entry '" + KEY + ".npy' inflates to more than the "
        + npy.length + " bytes"), e.getMessage());
  }

  @Test
  void overlappingEntriesAreRefusedQuickly() throws Exception {
    byte[] npy = npy(new float[] {1f, 2f});
    ZipBytes z = new ZipBytes().entry("a/w.npy", npy);
    z.aliases = 60_000; // 60k central entries that all point at the same local entry
    Path f = z.write(dir.resolve("overlap.npz"));
    WeightFileException e = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> refused(f));
    assertTrue(e.getMessage().contains("overlap"), e.getMessage());
    assertTrue(e.getMessage().contains("'a/w.npy'"), e.getMessage());
  }

  @Test
  void absurdEntryCountsAndDirectorySizesAreBoundedFirst() throws Exception {
    // a directory claiming 1.9 GB in a tiny file: refused from the file size, nothing read
    Path big = new ZipBytes().entry("a/w.npy", npy(new float[] {1f})).eocd(1, 1_900_000_000L, 0).write(dir.resolve("big.npz"));
    assertTrue(refused(big).getMessage().contains("size 1900000000) lies outside the"), refused(big).getMessage());
    Path many = new ZipBytes().entry("a/w.npy", npy(new float[] {1f})).eocd(60_000, 100, 0).write(dir.resolve("many.npz"));
    assertTrue(refused(many).getMessage().contains("claims 60000 entries but its 100 bytes hold at most 2"),
        refused(many).getMessage());
  }

  @Test
  void negativeAndHugeZip64FieldsAreNamed() throws Exception {
    for (long[] c : new long[][] {{-5, 10, 0}, {1_000_000, 10, 0}, {1, -1, 0}, {1, 10, Long.MIN_VALUE}}) {
      Path f = zip64(dir.resolve("z64.npz"), c[0], c[1], c[2]);
      String m = refused(f).getMessage();
      if (c[0] == -5) {
        assertTrue(m.contains("field 'total number of entries' is 18446744073709551611"), m);
      } else if (c[0] == 1_000_000) {
        assertTrue(m.contains("claims 1000000 entries; more than 65536"), m);
      } else if (c[1] == -1) {
        assertTrue(m.contains("field 'size of the central directory' is 18446744073709551615"), m);
      } else {
        assertTrue(m.contains("field 'offset of the central directory' is 9223372036854775808"), m);
      }
    }
  }

  @Test
  void negativeZip64ExtraFieldOfAnEntryIsNamed() throws Exception {
    ZipBytes z = new ZipBytes().entry("a/w.npy", npy(new float[] {1f}));
    z.zip64SizeInExtra = -2;
    String m = refused(z.write(dir.resolve("extra.npz"))).getMessage();
    assertTrue(m.contains("zip64 extra field of entry 'a/w.npy': uncompressed size is 18446744073709551614"), m);
  }

  // ---- builders --------------------------------------------------------------------------------

  static byte[] npy(float[] v) {
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + v.length + ",), }";
    int total = 10 + dict.length() + 1;
    int pad = (64 - total % 64) % 64;
    ByteBuffer b = ByteBuffer.allocate(total + pad + 4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    b.putShort((short) (dict.length() + 1 + pad));
    b.put(dict.getBytes(StandardCharsets.US_ASCII));
    for (int i = 0; i < pad; i++) {
      b.put((byte) ' ');
    }
    b.put((byte) '\n');
    for (float x : v) {
      b.putFloat(x);
    }
    return b.array();
  }

  /** A stored-method zip written byte by byte, with knobs for hostile variations. */
  static final class ZipBytes {
    private String name;
    private byte[] data;
    int aliases = 1;
    int method;
    long recordedSize = -1;
    long recordedCrc = -1;
    long zip64SizeInExtra;
    private long[] eocd;

    ZipBytes entry(String n, byte[] d) {
      this.name = n;
      this.data = d;
      return this;
    }

    /** Overrides the end-of-central-directory record's count, directory size and offset. */
    ZipBytes eocd(long count, long size, long offset) {
      this.eocd = new long[] {count, size, offset};
      return this;
    }

    Path write(Path f) throws IOException {
      byte[] n = name.getBytes(StandardCharsets.UTF_8);
      CRC32 c32 = new CRC32();
      c32.update(data);
      long crc = recordedCrc >= 0 ? recordedCrc : c32.getValue();
      int usize = recordedSize >= 0 ? (int) recordedSize : data.length;
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteBuffer lh = le(30);
      lh.putInt(0x04034b50).putShort((short) 20).putShort((short) 0).putShort((short) method).putInt(0)
          .putInt((int) crc).putInt(data.length).putInt(usize)
          .putShort((short) n.length).putShort((short) 0);
      out.write(lh.array());
      out.write(n);
      out.write(data);
      int cdStart = out.size();
      boolean z64 = zip64SizeInExtra != 0;
      for (int i = 0; i < aliases; i++) {
        byte[] nm = (i == 0 ? name : name + "." + i).getBytes(StandardCharsets.UTF_8);
        ByteBuffer c = le(46);
        c.putInt(0x02014b50).putShort((short) 45).putShort((short) 20).putShort((short) 0)
            .putShort((short) method).putInt(0).putInt((int) crc)
            .putInt(z64 ? -1 : data.length).putInt(z64 ? -1 : usize)
            .putShort((short) nm.length).putShort((short) (z64 ? 20 : 0)).putShort((short) 0)
            .putShort((short) 0).putShort((short) 0).putInt(0).putInt(0);
        out.write(c.array());
        out.write(nm);
        if (z64) {
          out.write(le(20).putShort((short) 1).putShort((short) 16).putLong(zip64SizeInExtra)
              .putLong(zip64SizeInExtra).array());
        }
      }
      int cdSize = out.size() - cdStart;
      ByteBuffer e = le(22);
      long count = eocd != null ? eocd[0] : aliases;
      e.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) Math.min(count, 0xFFFF))
          .putShort((short) Math.min(count, 0xFFFF)).putInt((int) (eocd != null ? eocd[1] : cdSize))
          .putInt((int) (eocd != null ? eocd[2] : cdStart)).putShort((short) 0);
      out.write(e.array());
      Files.write(f, out.toByteArray());
      return f;
    }
  }

  /** A local-header stub, then a zip64 end record with the given fields, its locator, the EOCD. */
  private static Path zip64(Path f, long count, long cdSize, long cdOffset) throws IOException {
    ByteBuffer b = le(30 + 56 + 20 + 22);
    b.putInt(0x04034b50).position(30);
    b.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
        .putLong(count).putLong(count).putLong(cdSize).putLong(cdOffset);
    b.putInt(0x07064b50).putInt(0).putLong(30).putInt(1);
    b.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) -1).putShort((short) -1)
        .putInt(-1).putInt(-1).putShort((short) 0);
    Files.write(f, b.array());
    return f;
  }

  private static ByteBuffer le(int n) {
    return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static void flipBit(Path f, long offset, int mask) throws IOException {
    byte[] all = Files.readAllBytes(f);
    all[(int) offset] ^= (byte) mask;
    Files.write(f, all);
  }

  private static int indexOf(byte[] hay, byte[] needle, int from) {
    outer:
    for (int i = from; i <= hay.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("not found");
  }
}
