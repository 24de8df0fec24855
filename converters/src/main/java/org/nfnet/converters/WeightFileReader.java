package org.nfnet.converters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import org.nfnet.converters.npz.NpzReader;
import org.nfnet.converters.pickle.HaikuPickleReader;

/**
 * The one entry point for reading NFNet weights: detects the container from the first bytes
 * (pickle: {@code 0x80} PROTO; zip/.npz: {@code PK\3\4}), never from the name - DeepMind's pickles
 * are called {@code .npz} - and returns the parameters without reading the array data.
 */
public final class WeightFileReader {
  private WeightFileReader() {}

  /** {@link #read(Path, ReadOptions)} with checksum verification on. */
  public static HaikuParams read(Path file) {
    return read(file, ReadOptions.defaults());
  }

  /**
   * Reads the structure of a weight file. The result holds the file open; close it.
   *
   * @throws WeightFileException for anything wrong with the file (naming file, offset, parameter)
   * @throws UncheckedIOException when the file cannot be read at all
   */
  public static HaikuParams read(Path file, ReadOptions options) {
    FileChannel ch = open(file);
    boolean ok = false;
    try {
      if (options.verifyReleaseChecksum()) {
        ReleaseChecksums.verify(file, ch);
      }
      HaikuParams p = switch (detect(file, ch)) {
        case PICKLE -> HaikuPickleReader.read(file, ch);
        case NPZ -> NpzReader.read(file, ch);
      };
      ok = true;
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + file + ": " + e.getMessage(), e);
    } finally {
      if (!ok) {
        closeQuietly(ch);
      }
    }
  }

  /** Reads a file that must be a pickle; a zip gives an error saying so. */
  public static HaikuParams readPickle(Path file) {
    return readExpecting(file, WeightFormat.PICKLE);
  }

  /** Reads a file that must be a real .npz; a pickle gives an error saying so. */
  public static HaikuParams readNpz(Path file) {
    return readExpecting(file, WeightFormat.NPZ);
  }

  private static HaikuParams readExpecting(Path file, WeightFormat expected) {
    WeightFormat actual = detect(file);
    if (actual != expected) {
      throw new WeightFileException(file, 0, expected == WeightFormat.PICKLE
          ? "this is a zip archive (a real numpy .npz), not a pickle; use WeightFileReader.read, which handles both"
          : "this is a pickle (like DeepMind's F<n>_haiku.npz release files), not a zip/.npz archive;"
              + " use WeightFileReader.read, which handles both");
    }
    return read(file, ReadOptions.defaults());
  }

  /** The container format of a file, from its first bytes. */
  public static WeightFormat detect(Path file) {
    try (FileChannel ch = open(file)) {
      return detect(file, ch);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static WeightFormat detect(Path file, FileChannel ch) throws IOException {
    ByteBuffer head = ByteBuffer.allocate(4);
    while (head.hasRemaining() && ch.read(head, head.position()) > 0) {
      // read up to 4 bytes
    }
    head.flip();
    if (head.remaining() >= 1 && (head.get(0) & 0xFF) == 0x80) {
      return WeightFormat.PICKLE;
    }
    if (head.remaining() == 4 && head.get(0) == 'P' && head.get(1) == 'K'
        && ((head.get(2) == 3 && head.get(3) == 4) || (head.get(2) == 5 && head.get(3) == 6))) {
      return WeightFormat.NPZ;
    }
    byte[] b = new byte[head.remaining()];
    head.get(b);
    String hint = b.length >= 1 && b[0] == (byte) 0x93 ? " (a single .npy array; pack it in an .npz)" : "";
    throw new WeightFileException(file, 0, head.limit() == 0 ? "file is empty"
        : "not a weight file: starts with bytes " + HexFormat.ofDelimiter(" ").formatHex(b)
            + ", expected a pickle (0x80 ...) or a zip/.npz (50 4b 03 04)" + hint);
  }

  private static FileChannel open(Path file) {
    if (file.toString().isEmpty()) {
      // Path.of("") is the working directory: say what was really wrong.
      throw new WeightFileException(file, "no file named (the path is empty)");
    }
    java.nio.file.attribute.BasicFileAttributes a;
    try {
      a = java.nio.file.Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new WeightFileException(file, "no such file");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open " + file + ": " + e.getMessage(), e);
    }
    if (!a.isRegularFile()) {
      // opening a FIFO with no writer would block forever; devices can be endless
      throw new WeightFileException(file, (a.isDirectory() ? "is a directory" : "is not a regular file (a FIFO,"
          + " socket or device)") + "; weights are only read from regular files");
    }
    try {
      return FileChannel.open(file, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new WeightFileException(file, "no such file");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open " + file + ": " + e.getMessage(), e);
    }
  }

  private static void closeQuietly(FileChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // already failing; the original error matters
    }
  }
}
