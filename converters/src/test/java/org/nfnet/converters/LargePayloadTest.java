package org.nfnet.converters;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Payloads bigger than the reader's windows and chunks (1 MB), in every payload form. */
class LargePayloadTest {
  static final int N = 700_000; // 2.8 MB of float32

  @TempDir
  Path dir;

  static float[] values() {
    float[] v = new float[N];
    for (int i = 0; i < N; i++) {
      v[i] = (float) Math.sin(i * 0.001) * (i % 7 - 3); // bytes >= 0x80 everywhere: 2-byte UTF-8
    }
    return v;
  }

  static byte[] le(float[] v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putFloat(x);
    }
    return b.array();
  }

  @Test
  void protocol2Latin1TextPayloadStreamsAcrossChunks() throws IOException {
    float[] v = values();
    Map<String, Map<String, PickleWriter.Arr>> tree = new LinkedHashMap<>();
    tree.put("m", Map.of("w", new PickleWriter.Arr(new long[] {N}, "f4", "<", le(v), -1).asLatin1()));
    Path f = dir.resolve("big_p2.pkl");
    try (PickleWriter w = new PickleWriter(f)) {
      w.haikuTree(tree);
    }
    try (HaikuParams p = WeightFileReader.read(f)) {
      assertEquals(1, p.globals().get("_codecs.encode"));
      assertEquals(-1, p.get("m/w").fileOffset());
      assertEquals(4L * N, p.get("m/w").storedByteLength());
      assertArrayEquals(v, p.get("m/w").toFloatArray());
    }
  }

  @Test
  void bigPickleArrayIsReadPositionally() throws IOException {
    float[] v = values();
    Map<String, Map<String, PickleWriter.Arr>> tree = new LinkedHashMap<>();
    tree.put("m", Map.of("w", PickleWriter.Arr.f32(new long[] {N / 1000, 1000}, v)));
    Path f = dir.resolve("big.pkl");
    try (PickleWriter w = new PickleWriter(f)) {
      w.haikuTree(tree);
    }
    try (HaikuParams p = WeightFileReader.read(f)) {
      // the data is followed by 9 opcodes: TUPLE BUILD SETITEM TUPLE1 REDUCE SETITEM TUPLE1 REDUCE STOP
      assertEquals(Files.size(f) - 4L * N - 9, p.get("m/w").fileOffset());
      assertArrayEquals(v, p.get("m/w").toFloatArray());
    }
  }

  static byte[] npy(String descr, long[] shape, byte[] data) {
    StringBuilder dims = new StringBuilder();
    for (long d : shape) {
      dims.append(d).append(", ");
    }
    String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    int total = 10 + dict.length() + 1;
    int pad = (64 - total % 64) % 64;
    String header = dict + " ".repeat(pad) + "\n";
    ByteBuffer b = ByteBuffer.allocate(10 + header.length() + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    b.putShort((short) header.length());
    b.put(header.getBytes(StandardCharsets.ISO_8859_1));
    b.put(data);
    return b.array();
  }

  @Test
  void bigDeflatedAndStoredNpzEntries() throws IOException {
    float[] v = values();
    ByteBuffer be = ByteBuffer.allocate(N * 8).order(ByteOrder.BIG_ENDIAN);
    for (float x : v) {
      be.putDouble(x);
    }
    Path f = dir.resolve("big.npz");
    try (OutputStream os = Files.newOutputStream(f); ZipOutputStream z = new ZipOutputStream(os)) {
      z.setLevel(1);
      z.putNextEntry(new ZipEntry("NFNet/~/a/w.npy"));
      z.write(npy("<f4", new long[] {N}, le(v)));
      z.closeEntry();
      z.putNextEntry(new ZipEntry("NFNet/~/a/b.npy"));
      z.write(npy(">f8", new long[] {700, 1000}, be.array()));
      z.closeEntry();
    }
    try (HaikuParams p = WeightFileReader.read(f)) {
      assertEquals(WeightFormat.NPZ, p.format());
      assertArrayEquals(v, p.get("NFNet/~/a/w").toFloatArray());
      assertArrayEquals(v, p.get("NFNet/~/a/b").toFloatArray());
      assertArrayEquals(new long[] {700, 1000}, p.get("NFNet/~/a/b").shape());
      assertEquals(DType.FLOAT64, p.get("NFNet/~/a/b").dtype());
    }
  }
}
