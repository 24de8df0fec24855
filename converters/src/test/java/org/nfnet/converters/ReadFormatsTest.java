package org.nfnet.converters;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nfnet.converters.payload.Payload;

/** Every supported container / protocol / dtype reads back to the values that were written. */
class ReadFormatsTest {
  /** tiny_structure.json: key -> shape, in sorted module order (the writer's salt order). */
  static Map<String, long[]> tinyShapes() throws Exception {
    JsonNode shapes = new ObjectMapper().readTree(TestFiles.resource("tiny_structure.json").toFile())
        .get("tiny").get("shapes");
    Map<String, long[]> out = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> m = shapes.fields(); m.hasNext(); ) {
      Map.Entry<String, JsonNode> mod = m.next();
      for (Iterator<Map.Entry<String, JsonNode>> p = mod.getValue().fields(); p.hasNext(); ) {
        Map.Entry<String, JsonNode> par = p.next();
        long[] s = new long[par.getValue().size()];
        for (int i = 0; i < s.length; i++) {
          s[i] = par.getValue().get(i).asLong();
        }
        out.put(mod.getKey() + "/" + par.getKey(), s);
      }
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"tiny_release_p3.pkl", "tiny_release_p2.pkl", "tiny_release_p4.pkl",
      "tiny_release_p5.pkl", "tiny_p2.pkl", "tiny_p3.pkl", "tiny_p4.pkl", "tiny_p5.pkl", "tiny_stored.npz",
      "tiny_deflated.npz"})
  void tinyFilesHoldTheWritersPatternValues(String name) throws Exception {
    Map<String, long[]> shapes = tinyShapes();
    List<String> modules = new ArrayList<>(new java.util.TreeSet<>(
        shapes.keySet().stream().map(k -> k.substring(0, k.lastIndexOf('/'))).toList()));
    try (HaikuParams p = WeightFileReader.read(TestFiles.resource(name))) {
      assertEquals(9, p.arrayCount());
      assertEquals(4, p.moduleCount());
      assertEquals(108 + 4 + 4 + 1 + 32 + 8 + 8 + 40 + 5, p.totalElements());
      assertEquals(name.endsWith(".npz") ? WeightFormat.NPZ : WeightFormat.PICKLE, p.format());
      if (name.endsWith(".pkl")) {
        assertEquals(name.charAt(name.length() - 5) - '0', p.protocol());
        assertEquals(name.contains("release")
            ? "dill 0.3.x / numpy <= 1.18 release layout (as DeepMind's F0-F6 files)"
            : "plain layout (standard pickler, numpy >= 1.19)", p.layout());
        if (name.contains("release")) {
          // dill's _get_attr(_import_module(...), '_reconstruct') once, then 8 memo references
          assertEquals(1, p.globals().get("dill._dill._get_attr"));
          assertEquals(1, p.globals().get("dill._dill._import_module"));
        }
        assertEquals(9, p.globals().get("numpy.core.multiarray._reconstruct"));
      }
      assertTrue(p.warnings().isEmpty(), p.warnings().toString());
      for (Map.Entry<String, long[]> e : shapes.entrySet()) {
        ParamArray a = p.get(e.getKey());
        assertArrayEquals(e.getValue(), a.shape(), e.getKey());
        int salt = modules.indexOf(a.module());
        float[] v = a.toFloatArray();
        assertEquals(a.elementCount(), v.length);
        for (int i = 0; i < v.length; i++) {
          assertEquals(TestFiles.pattern(e.getValue(), salt, i), v[i], 0f, e.getKey() + "[" + i + "]");
        }
      }
    }
  }

  @Test
  void storedNpzAndPickleDataArePositional() throws Exception {
    try (HaikuParams pkl = WeightFileReader.read(TestFiles.resource("tiny_p4.pkl"));
        HaikuParams npz = WeightFileReader.read(TestFiles.resource("tiny_stored.npz"));
        HaikuParams def = WeightFileReader.read(TestFiles.resource("tiny_deflated.npz"))) {
      ParamArray w = pkl.get("NFNet/~/stem_conv0/w");
      assertTrue(w.fileOffset() > 0);
      assertEquals(432, w.storedByteLength());
      assertTrue(npz.get("NFNet/~/stem_conv0/w").fileOffset() > 0);
      assertEquals(-1, def.get("NFNet/~/stem_conv0/w").fileOffset());
      assertEquals("numpy .npz (deflated entries)", def.topLevelType());
      assertEquals(1, npz.protocol()); // .npy format version 1
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4, 5})
  void releaseAndPlainLayoutsHoldByteIdenticalArrays(int protocol) throws Exception {
    try (HaikuParams rel = WeightFileReader.read(TestFiles.resource("tiny_release_p" + protocol + ".pkl"));
        HaikuParams plain = WeightFileReader.read(TestFiles.resource("tiny_p" + protocol + ".pkl"))) {
      assertEquals(plain.byKey().keySet(), rel.byKey().keySet());
      for (String k : plain.byKey().keySet()) {
        assertArrayEquals(plain.get(k).shape(), rel.get(k).shape(), k);
        assertArrayEquals(plain.get(k).toFloatArray(), rel.get(k).toFloatArray(), k);
      }
    }
  }

  @Test
  void protocol2UsesCodecsEncodeAndReadsIdentically() throws Exception {
    try (HaikuParams p2 = WeightFileReader.read(TestFiles.resource("tiny_p2.pkl"));
        HaikuParams p5 = WeightFileReader.read(TestFiles.resource("tiny_p5.pkl"))) {
      // 9 array payloads + the (memoized) b'b' typecode of _reconstruct's arguments
      assertEquals(10, p2.globals().get("_codecs.encode"));
      for (String k : p5.byKey().keySet()) {
        assertArrayEquals(p5.get(k).toFloatArray(), p2.get(k).toFloatArray(), k);
      }
    }
  }

  static final float[] VALUES = {0.5f, -1.25f, 3.0f, 65504.0f, -0.0f, 1e-3f};

  @ParameterizedTest
  @ValueSource(strings = {"numpy_p2.pkl", "numpy_p4.pkl", "numpy_p5.pkl"})
  void realNumpyPicklesInAllDtypes(String name) {
    try (HaikuParams p = WeightFileReader.read(TestFiles.resource(name))) {
      assertEquals("dict", p.topLevelType());
      assertArrayEquals(new long[] {2, 3}, p.get("m/f32").shape());
      assertArrayEquals(VALUES, p.get("m/f32").toFloatArray());
      assertArrayEquals(VALUES, p.get("m/f64").toFloatArray());
      assertArrayEquals(VALUES, p.get("m/be32").toFloatArray());
      float[] half = VALUES.clone();
      half[5] = 0.0010004043579101562f; // 1e-3 rounded to float16
      assertArrayEquals(half, p.get("m/f16").toFloatArray());
      assertEquals(DType.FLOAT16, p.get("m/f16").dtype());
      assertEquals(ByteOrder.BIG_ENDIAN, p.get("m/be32").byteOrder());
      String w = String.join("\n", p.warnings());
      assertTrue(w.contains("1 parameter(s) stored as float16 are converted to float32 (first: m/f16)"), w);
      assertTrue(w.contains("float64"), w);
      assertTrue(w.contains("big-endian are byte-swapped (first: m/be32)"), w);
      if (name.equals("numpy_p5.pkl")) {
        assertEquals(4, p.globals().get("numpy._core.numeric._frombuffer"));
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void dillCreateArrayLayout() throws Exception {
    try (HaikuParams p = WeightFileReader.read(TestFiles.resource("dill_create_array_p4.pkl"))) {
      assertEquals(2, p.globals().get("dill._dill._create_array"));
      assertArrayEquals(VALUES, p.get("m/f32").toFloatArray());
      assertArrayEquals(VALUES, p.get("m/f64").toFloatArray());
    }
  }

  @Test
  void copyAsFloat32WritesNativeOrderAtThePositionAndAdvances() throws Exception {
    try (HaikuParams p = WeightFileReader.read(TestFiles.resource("numpy_p4.pkl"))) {
      ByteBuffer dst = ByteBuffer.allocateDirect(8 + 24 + 24);
      dst.position(8);
      p.get("m/be32").copyAsFloat32(dst);
      p.get("m/f16").copyAsFloat32(dst);
      assertEquals(56, dst.position());
      dst.order(ByteOrder.nativeOrder());
      assertEquals(0.5f, dst.getFloat(8));
      assertEquals(65504.0f, dst.getFloat(8 + 12));
      assertEquals(-1.25f, dst.getFloat(32 + 4));
    }
  }

  @Test
  void conversionHandlesElementsSplitAcrossChunks() throws Exception {
    // float64 payload delivered in 3-byte chunks: every element straddles chunk borders
    ByteBuffer raw = ByteBuffer.allocate(6 * 8).order(ByteOrder.BIG_ENDIAN);
    for (float v : VALUES) {
      raw.putDouble(v);
    }
    byte[] bytes = raw.array();
    Payload chunky = new Payload() {
      public long length() {
        return bytes.length;
      }

      public long fileOffset() {
        return -1;
      }

      public void copyTo(ByteBuffer dst) {
        dst.put(bytes);
      }

      public void forEachChunk(ChunkConsumer c) throws java.io.IOException {
        for (int i = 0; i < bytes.length; i += 3) {
          c.accept(ByteBuffer.wrap(bytes, i, Math.min(3, bytes.length - i)).slice());
        }
      }
    };
    ByteBuffer dst = ByteBuffer.allocate(24);
    Float32Conversion.copy(chunky, DType.FLOAT64, ByteOrder.BIG_ENDIAN, dst);
    dst.flip();
    float[] out = new float[6];
    dst.order(ByteOrder.nativeOrder()).asFloatBuffer().get(out);
    assertArrayEquals(VALUES, out);
  }

  @Test
  void float16SpecialValues() {
    assertEquals(0x1p-24f, Float32Conversion.Float16.toFloat((short) 0x0001)); // smallest subnormal
    assertEquals(Float.POSITIVE_INFINITY, Float32Conversion.Float16.toFloat((short) 0x7C00));
    assertEquals(Float.NEGATIVE_INFINITY, Float32Conversion.Float16.toFloat((short) 0xFC00));
    assertTrue(Float.isNaN(Float32Conversion.Float16.toFloat((short) 0x7E00)));
    assertEquals(-2.0f, Float32Conversion.Float16.toFloat((short) 0xC000));
    assertEquals(1.0f, Float32Conversion.Float16.toFloat((short) 0x3C00));
  }
}
