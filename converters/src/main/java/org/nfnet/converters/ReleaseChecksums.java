package org.nfnet.converters;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * md5 sums of DeepMind's released weight files {@code F0_haiku.npz} .. {@code F6_haiku.npz}
 * (as listed in /work/shared/reference/paper_numbers.md, taken from a third-party loader). A file
 * with one of those names must have that md5, so a corrupt or partial download is caught before
 * conversion.
 */
public final class ReleaseChecksums {
  private static final Map<String, String> MD5 = Map.of(
      "F0", "0a41039da1cb43adf47f1b7d86ddfe0f",
      "F1", "c9126bbfaf855f9ddb7ff3b902558781",
      "F2", "7a018d8d1498020e2f5a8719a1e7f53f",
      "F3", "d8e1e78d26db659c486150dbaccbe78a",
      "F4", "f5974a7e3388aa81b91a9f1403e759a4",
      "F5", "8639e925de951030651ac775b9f915c3",
      "F6", "b16cca40ac1ecec2bd5e3273866da0c1");
  private static final Pattern RELEASE_NAME = Pattern.compile("(F[0-6])_haiku\\.npz");
  private static final int BUFFER = 4 << 20;

  private ReleaseChecksums() {}

  /** The expected md5 if the file name is one of the release names, else empty. */
  public static Optional<String> expectedMd5(Path file) {
    Matcher m = RELEASE_NAME.matcher(file.getFileName().toString());
    return m.matches() ? Optional.of(MD5.get(m.group(1))) : Optional.empty();
  }

  /**
   * Streams the file through md5 with positional reads into one small direct buffer. Not memory
   * mapping: mapped windows stay resident (and count as RSS) until the GC unmaps them, which made
   * converting F0 cost an extra ~0.4x the file size in peak memory.
   */
  public static String md5(FileChannel ch) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect(BUFFER);
    long pos = 0;
    while (true) {
      buf.clear();
      int n = ch.read(buf, pos);
      if (n < 0) {
        break;
      }
      pos += n;
      buf.flip();
      md.update(buf);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /** Fails if the file carries a release name but not the release md5. */
  static void verify(Path file, FileChannel ch) throws IOException {
    Optional<String> expected = expectedMd5(file);
    if (expected.isEmpty()) {
      return;
    }
    String actual = md5(ch);
    if (!actual.equals(expected.get())) {
      throw new WeightFileException(file, "md5 " + actual + " does not match DeepMind's release file "
          + file.getFileName() + " (expected " + expected.get() + "); the download is corrupt or "
          + "incomplete. Disable checksum verification to read it anyway (nfnet: --no-verify; "
          + "Java: ReadOptions.withoutChecksum()).");
    }
  }
}
