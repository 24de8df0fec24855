package org.nfnet.converters;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nfnet.testing.SharedFixtures;

/**
 * The tiny T0 fixtures: {@code t0_seed*_release.pkl} in the byte layout of DeepMind's release files
 * (dill 0.3.x / numpy <= 1.18), the others in the plain standard-pickler layout (protocols 3, 4).
 */
class T0FixtureTest {
  static final Path SHARED = SharedFixtures.dir();
  static final Path T0 = SHARED.resolve("fixtures/nfnet_t0");

  static Map<String, long[]> referenceShapes() throws Exception {
    JsonNode shapes = new ObjectMapper().readTree(T0.resolve("reference.json").toFile()).get("shapes");
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
  @ValueSource(strings = {"t0_seed5_release.pkl", "t0_seed31_release.pkl", "t0_seed5_p3.pkl", "t0_seed6_p4.pkl",
      "t0_seed31_p3.pkl"})
  void readsEveryArrayWithReferenceShapes(String name) throws Exception {
    Map<String, long[]> ref = referenceShapes();
    try (HaikuParams p = WeightFileReader.read(T0.resolve(name))) {
      assertEquals(131, p.arrayCount());
      assertEquals(131, ref.size());
      assertEquals(289872L, p.totalElements());
      assertEquals(52, p.moduleCount());
      assertEquals(name.contains("_p4") ? 4 : 3, p.protocol());
      assertEquals("haiku._src.data_structures.FlatMapping", p.topLevelType());
      assertEquals(WeightFormat.PICKLE, p.format());
      for (Map.Entry<String, long[]> e : ref.entrySet()) {
        ParamArray a = p.get(e.getKey());
        assertArrayEquals(e.getValue(), a.shape(), e.getKey());
        assertEquals(DType.FLOAT32, a.dtype());
      }
      assertEquals(53, p.globals().get("haiku._src.data_structures.FlatMapping"));
      assertEquals(131, p.globals().get("numpy.core.multiarray._reconstruct"));
      if (name.contains("release")) {
        assertEquals(1, p.globals().get("dill._dill._get_attr"));
        assertEquals(1, p.globals().get("dill._dill._import_module"));
        assertEquals("dill 0.3.x / numpy <= 1.18 release layout (as DeepMind's F0-F6 files)", p.layout());
      } else {
        assertEquals(null, p.globals().get("dill._dill._get_attr"));
        assertEquals("plain layout (standard pickler, numpy >= 1.19)", p.layout());
      }
    }
  }

  /** Same arrays in both layouts: shapes and every byte of every array identical. */
  @ParameterizedTest
  @ValueSource(ints = {5, 31})
  void releaseLayoutHoldsTheSameBytesAsThePlainOne(int seed) throws Exception {
    try (HaikuParams rel = WeightFileReader.read(T0.resolve("t0_seed" + seed + "_release.pkl"));
        HaikuParams plain = WeightFileReader.read(T0.resolve("t0_seed" + seed + "_p3.pkl"))) {
      assertEquals(plain.byKey().keySet(), rel.byKey().keySet());
      for (String k : plain.byKey().keySet()) {
        assertArrayEquals(plain.get(k).shape(), rel.get(k).shape(), k);
        float[] a = plain.get(k).toFloatArray();
        float[] b = rel.get(k).toFloatArray();
        for (int i = 0; i < a.length; i++) {
          assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), k + "[" + i + "]");
        }
      }
    }
  }
}
