package org.nfnet.training.data;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * Reader/writer for the IDX format used by (Fashion-)MNIST: a big-endian header of two zero bytes,
 * a type code (0x08 = unsigned byte), the number of dimensions, then one int32 per dimension,
 * followed by the data in row-major order. Gzip-compressed files are detected by their magic bytes.
 */
public final class Idx {
  public static final int UBYTE = 0x08;

  /** An unsigned-byte IDX array. */
  public record Array(int[] dims, byte[] data) {
    public int count() {
      return dims[0];
    }

    /** Elements per item (product of all but the first dimension). */
    public int itemSize() {
      int n = 1;
      for (int i = 1; i < dims.length; i++) n *= dims[i];
      return n;
    }

    public int get(int... index) {
      int flat = 0;
      for (int i = 0; i < dims.length; i++) flat = flat * dims[i] + index[i];
      return data[flat] & 0xff;
    }

    @Override
    public String toString() {
      return "Idx.Array" + Arrays.toString(dims);
    }
  }

  private Idx() {}

  public static Array read(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return read(in);
    } catch (IOException e) {
      throw new IOException("Cannot read IDX file " + file + ": " + e.getMessage(), e);
    }
  }

  /** Reads an IDX stream, gunzipping it first when it starts with the gzip magic. */
  public static Array read(InputStream raw) throws IOException {
    BufferedInputStream buffered = new BufferedInputStream(raw, 1 << 16);
    buffered.mark(2);
    int b0 = buffered.read();
    int b1 = buffered.read();
    buffered.reset();
    InputStream in = (b0 == 0x1f && b1 == 0x8b) ? new GZIPInputStream(buffered, 1 << 16) : buffered;
    DataInputStream data = new DataInputStream(in);
    int zero = data.readUnsignedShort();
    int type = data.readUnsignedByte();
    int ndims = data.readUnsignedByte();
    if (zero != 0 || ndims == 0) {
      throw new IOException("not an IDX file (bad magic)");
    }
    if (type != UBYTE) {
      throw new IOException(String.format("unsupported IDX type 0x%02x (only ubyte)", type));
    }
    int[] dims = new int[ndims];
    long total = 1;
    for (int i = 0; i < ndims; i++) {
      dims[i] = data.readInt();
      if (dims[i] < 0) throw new IOException("negative IDX dimension");
      total *= dims[i];
    }
    if (total > Integer.MAX_VALUE - 16) throw new IOException("IDX array too large: " + total);
    byte[] bytes = new byte[(int) total];
    data.readFully(bytes);
    return new Array(dims, bytes);
  }

  /** Writes a gzipped ubyte IDX file. */
  public static void writeGzip(Path file, int[] dims, byte[] data) throws IOException {
    ByteArrayOutputStream header = new ByteArrayOutputStream();
    header.write(new byte[] {0, 0, (byte) UBYTE, (byte) dims.length});
    for (int d : dims) {
      header.write(new byte[] {(byte) (d >>> 24), (byte) (d >>> 16), (byte) (d >>> 8), (byte) d});
    }
    try (OutputStream out =
        new GZIPOutputStream(Files.newOutputStream(file), 1 << 16) {
          {
            def.setLevel(java.util.zip.Deflater.BEST_COMPRESSION);
          }
        }) {
      header.writeTo(out);
      out.write(data);
    }
  }
}
