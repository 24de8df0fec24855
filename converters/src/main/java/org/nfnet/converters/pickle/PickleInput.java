package org.nfnet.converters.pickle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.nfnet.converters.WeightFileException;

/**
 * Positional, buffered reading of a pickle's opcodes and small arguments. Only a 64 KB window of
 * the file is on the heap at any time; large byte strings are skipped over by {@link #skip}, their
 * position is what the reader keeps. Every read checks the file size first, so a truncated file
 * or a huge length claim fails with a message instead of a read past the end or an allocation.
 */
final class PickleInput {
  private static final int WINDOW = 1 << 16;

  private final FileChannel channel;
  private final Path file;
  private final long size;
  private final ByteBuffer window = ByteBuffer.allocate(WINDOW).order(ByteOrder.LITTLE_ENDIAN);
  private long windowStart = 0;
  private long pos = 0;
  /** Offset of the opcode being executed, for error messages. */
  long opcodeOffset;
  /** The opcode being executed (-1 before it is read); its name is only looked up for errors. */
  int opcode = -1;

  String opcodeName() {
    return opcode < 0 ? "the next opcode" : Opcodes.name(opcode);
  }

  PickleInput(FileChannel channel, Path file) throws IOException {
    this.channel = channel;
    this.file = file;
    this.size = channel.size();
    window.limit(0);
  }

  long position() {
    return pos;
  }

  long size() {
    return size;
  }

  boolean atEnd() {
    return pos >= size;
  }

  /** Fails unless {@code n} more bytes exist. */
  void require(long n) {
    if (n < 0 || n > size - pos) {
      throw new WeightFileException(file, opcodeOffset, "file is truncated: " + opcodeName()
          + " needs " + (n < 0 ? "a negative number of" : String.valueOf(n)) + " bytes at offset "
          + pos + " but the file ends at offset " + size);
    }
  }

  private void ensure(int n) throws IOException {
    require(n);
    if (pos >= windowStart && pos + n <= windowStart + window.limit()) {
      return;
    }
    window.clear();
    long toRead = Math.min(WINDOW, size - pos);
    window.limit((int) toRead);
    long p = pos;
    while (window.hasRemaining()) {
      int r = channel.read(window, p);
      if (r < 0) {
        throw new WeightFileException(file, pos, "file shrank while reading");
      }
      p += r;
    }
    window.flip();
    windowStart = pos;
  }

  private int at() {
    return (int) (pos - windowStart);
  }

  int u8() throws IOException {
    ensure(1);
    int v = window.get(at()) & 0xFF;
    pos += 1;
    return v;
  }

  int u16() throws IOException {
    ensure(2);
    int v = window.getShort(at()) & 0xFFFF;
    pos += 2;
    return v;
  }

  int i32() throws IOException {
    ensure(4);
    int v = window.getInt(at());
    pos += 4;
    return v;
  }

  long u32() throws IOException {
    return i32() & 0xFFFFFFFFL;
  }

  /** An unsigned 64-bit length; values above 2^63 are reported as truncation by {@link #require}. */
  long u64() throws IOException {
    ensure(8);
    long v = window.getLong(at());
    pos += 8;
    return v;
  }

  double f64BigEndian() throws IOException {
    ensure(8);
    double v = window.order(ByteOrder.BIG_ENDIAN).getDouble(at());
    window.order(ByteOrder.LITTLE_ENDIAN);
    pos += 8;
    return v;
  }

  /** Reads {@code n} bytes to the heap; callers keep {@code n} small (strings, names, short bytes). */
  byte[] bytes(int n) throws IOException {
    require(n);
    byte[] out = new byte[n];
    if (n <= WINDOW) {
      ensure(n);
      window.get(at(), out);
    } else {
      ByteBuffer b = ByteBuffer.wrap(out);
      long p = pos;
      while (b.hasRemaining()) {
        if (channel.read(b, p + b.position()) < 0) {
          throw new WeightFileException(file, pos, "file shrank while reading");
        }
      }
    }
    pos += n;
    return out;
  }

  String utf8(int n) throws IOException {
    return new String(bytes(n), StandardCharsets.UTF_8);
  }

  /** A newline-terminated ASCII line (GLOBAL's arguments), at most {@code max} bytes long. */
  String line(int max) throws IOException {
    StringBuilder sb = new StringBuilder();
    while (true) {
      int b = u8();
      if (b == '\n') {
        return sb.toString();
      }
      if (sb.length() >= max) {
        throw new WeightFileException(file, opcodeOffset, opcodeName() + " argument is longer than "
            + max + " bytes");
      }
      sb.append((char) b);
    }
  }

  void skip(long n) {
    require(n);
    pos += n;
  }
}
