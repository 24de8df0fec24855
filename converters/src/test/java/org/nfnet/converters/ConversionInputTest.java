package org.nfnet.converters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.converters.validation.NonFiniteScan;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.Variants;

class ConversionInputTest {
  @TempDir
  Path dir;

  @Test
  void copiesEveryParameterOfTheT0FixtureInForwardOrder() throws IOException {
    var t0 = SharedFixtures.t0Config();
    try (ConversionInput in = ConversionInput.open(TestFiles.T0_DIR.resolve("t0_seed5_release.pkl"), t0,
        ReadOptions.defaults(), true)) {
      assertEquals(131, in.parameters().size());
      assertEquals("NFNet/~/stem_conv0/w", in.parameters().get(0).haikuKey());
      ByteBuffer all = ByteBuffer.allocateDirect(289872 * 4).order(ByteOrder.nativeOrder());
      double sum = 0;
      for (ParameterSpec s : in.parameters()) {
        int start = all.position();
        in.copyFloat32(s, all);
        assertEquals(s.size() * 4, all.position() - start, s.haikuKey());
        float[] direct = in.array(s).toFloatArray();
        for (int i = 0; i < direct.length; i++) {
          assertEquals(direct[i], all.getFloat(start + 4 * i));
          sum += direct[i];
        }
      }
      assertEquals(289872 * 4, all.position());
      assertTrue(Double.isFinite(sum));
    }
  }

  @Test
  void detectsTheVariantWhenNoneIsGiven() throws IOException {
    Path f = TestFiles.sparseVariantFile(dir.resolve("f2.pkl"), Variants.get("F2").withNumClasses(21));
    try (ConversionInput in = ConversionInput.open(f, null, ReadOptions.defaults(), true)) {
      assertEquals("F2", in.config().name());
      assertEquals(21, in.config().numClasses());
    }
  }

  @Test
  void wrongVariantAndNaNsAreRefused() throws IOException {
    Path t0 = TestFiles.T0_DIR.resolve("t0_seed5_release.pkl");
    WeightFileException e = assertThrows(WeightFileException.class,
        () -> ConversionInput.open(t0, Variants.get("F0"), ReadOptions.defaults(), false));
    assertTrue(e.getMessage().contains("does not match NFNet variant F0"), e.getMessage());

    Map<String, Map<String, PickleWriter.Arr>> tree = new LinkedHashMap<>();
    tree.put("NFNet/~/linear", Map.of("w", PickleWriter.Arr.f32(new long[] {2, 2}, 1, Float.NaN, 3, Float.NaN)));
    Path f = dir.resolve("nan.pkl");
    try (PickleWriter w = new PickleWriter(f)) {
      w.haikuTree(tree);
    }
    try (HaikuParams p = WeightFileReader.read(f)) {
      ByteBuffer dst = ByteBuffer.allocateDirect(16);
      p.get("NFNet/~/linear/w").copyAsFloat32(dst);
      dst.flip();
      NonFiniteScan.Result r = NonFiniteScan.scan(dst);
      assertEquals(new NonFiniteScan.Result(2, 0, 1), r);
    }
  }
}
