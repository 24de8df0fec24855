package org.nfnet.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nfnet.testing.SharedFixtures;

class NFNetStructureTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static Map<String, long[]> expectedShapes(JsonNode shapes) {
    Map<String, long[]> m = new HashMap<>();
    for (Iterator<String> mods = shapes.fieldNames(); mods.hasNext(); ) {
      String mod = mods.next();
      JsonNode params = shapes.get(mod);
      for (Iterator<String> ps = params.fieldNames(); ps.hasNext(); ) {
        String p = ps.next();
        JsonNode s = params.get(p);
        long[] shape = new long[s.size()];
        for (int i = 0; i < shape.length; i++) {
          shape[i] = s.get(i).asLong();
        }
        m.put(mod + "/" + p, shape);
      }
    }
    return m;
  }

  private static void assertSameParameters(Map<String, long[]> expected, List<ParameterSpec> ours) {
    assertEquals(expected.size(), ours.size(), "parameter count (number of arrays)");
    for (ParameterSpec p : ours) {
      long[] e = expected.get(p.haikuKey());
      assertTrue(e != null, "unexpected parameter " + p.haikuKey());
      assertArrayEquals(e, p.shape(), "shape of " + p.haikuKey());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"F0", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F0+", "F1+"})
  void namesShapesAndCountsMatchDeepMind(String variant) throws Exception {
    JsonNode all = JSON.readTree(SharedFixtures.structures().toFile());
    JsonNode v = all.get(variant);
    NFNetConfig c = Variants.get(variant);
    assertSameParameters(expectedShapes(v.get("shapes")), NFNetStructure.parameters(c));
    assertEquals(v.get("params").asLong(), NFNetStructure.parameterCount(c));
  }

  @Test
  void kernelInputScalesCoverEveryStandardizedConv() {
    NFNetConfig c = Variants.get("F0");
    Map<String, Float> scales = NFNetStructure.kernelInputScales(c);
    java.util.Set<String> convs = new java.util.HashSet<>();
    for (ParameterSpec p : NFNetStructure.parameters(c)) {
      if (p.name().equals("gain")) {
        convs.add(p.module());
      }
    }
    assertEquals(convs, scales.keySet());
    float gamma = (float) c.activation().gamma();
    assertEquals(1.0f, scales.get(NFNetStructure.stemModule(0)));
    assertEquals(gamma, scales.get(NFNetStructure.stemModule(1)));
    assertEquals(1.0f, scales.get(NFNetStructure.finalConvModule()));
    BlockSpec b = NFNetStructure.blocks(c).get(1);
    assertEquals((float) (c.activation().gamma() * b.beta()),
        scales.get(ParameterNames.module(b.module(), "conv0")));
    assertEquals(gamma, scales.get(ParameterNames.module(b.module(), "conv1b")));
  }

  @Test
  void exactParameterCountsFromThePaperTable() {
    long[] expected = {71_489_284L, 132_634_256L, 193_779_228L, 254_924_200L, 316_069_172L,
        377_214_144L, 438_359_116L, 499_504_088L};
    for (int n = 0; n < expected.length; n++) {
      assertEquals(expected[n], NFNetStructure.parameterCount(Variants.get("F" + n)), "F" + n);
    }
    assertEquals(118_824_516L, NFNetStructure.parameterCount(Variants.get("F0+")));
    assertEquals(220_357_008L, NFNetStructure.parameterCount(Variants.get("F1+")));
  }

  @Test
  void gmacsMatchThePaper() {
    assertEquals(12.38, NFNetStructure.macs(Variants.get("F0"), 256, 256) / 1e9, 0.005);
    assertEquals(35.54, NFNetStructure.macs(Variants.get("F1"), 320, 320) / 1e9, 0.005);
    assertEquals(114.76, NFNetStructure.macs(Variants.get("F3"), 416, 416) / 1e9, 0.005);
    assertEquals(377.28, NFNetStructure.macs(Variants.get("F6"), 576, 576) / 1e9, 0.005);
    assertEquals(478.78, NFNetStructure.macs(Variants.get("F7"), 608, 608) / 1e9, 0.005);
  }

  @Test
  void t0FixtureVariantMatchesItsShapes() throws Exception {
    NFNetConfig t0 = SharedFixtures.t0Config();
    assertEquals(10, t0.numClasses());
    assertArrayEquals(new int[] {32, 64, 128, 128}, t0.width());
    JsonNode root = SharedFixtures.reference();
    assertSameParameters(expectedShapes(root.get("shapes")), NFNetStructure.parameters(t0));
    assertEquals(root.get("param_count").asLong(), NFNetStructure.parameterCount(t0));
  }

  @Test
  void betaFollowsDeepMindsExpectedStdRecurrence() {
    List<BlockSpec> b = NFNetStructure.blocks(Variants.get("F0"));
    assertEquals(12, b.size());
    assertEquals(1.0, b.get(0).beta(), 1e-12);
    // stage 1's transition block sees the std grown by stage 0's single block
    assertEquals(1 / Math.sqrt(1.04), b.get(1).beta(), 1e-12);
    assertEquals(1 / Math.sqrt(1.04), b.get(2).beta(), 1e-12);
    assertEquals(1 / Math.sqrt(1.08), b.get(3).beta(), 1e-12);
    assertEquals(0.25 * 11 / 12, b.get(11).stochDepthRate(), 1e-12);
    assertEquals(2, b.get(1).stride());
    // block 5 is in stage 2 (depths 1, 2, 6, 3): bottleneck 1536 x expansion 0.5 = 768, split into
    // groups of DeepMind's group width 128
    assertEquals(2, b.get(5).stage());
    assertEquals(768, b.get(5).width());
    assertEquals(6, b.get(5).groups());
  }
}
