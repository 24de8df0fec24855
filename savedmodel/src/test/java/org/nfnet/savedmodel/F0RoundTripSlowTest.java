package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.Variants;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TUint8;

/** Randomly initialised F0 (71.5M params, ~290 MB): export, reload twice, same logits. Run with -Dgroups=slow. */
@Tag("slow")
class F0RoundTripSlowTest {
  @TempDir
  Path tmp;

  @Test
  void f0ExportRoundTrip() throws Exception {
    NFNetConfig f0 = Variants.get("F0");
    NFNetExporter.Result r = new NFNetExporter(f0).parameters(TestModels.randomValues(3)).export(tmp.resolve("f0"));
    System.out.printf("F0 export %d ms, %.1f MB%n", r.millis(), r.bytes() / 1e6);
    assertTrue(r.bytes() > 250_000_000L);
    byte[] px = TestModels.randomPixels(9, 2 * 300 * 260 * 3);
    float[][][] out = new float[2][][];
    for (int k = 0; k < 2; k++) {
      try (NFNetModel m = NFNetModel.load(r.dir());
          TUint8 t = TUint8.tensorOf(Shape.of(2, 300, 260, 3), DataBuffers.of(px, true, false))) {
        NFNetModel.Outputs o = m.predictUint8(t);
        out[k] = o.logits();
        assertEquals(1000, out[k][0].length);
        assertEquals(5, o.topKLabels()[0].length);
        assertEquals(Labels.imagenet().get(o.topKIndices()[0][0]), o.topKLabels()[0][0]);
      }
    }
    for (int i = 0; i < 2; i++) {
      assertArrayEquals(out[0][i], out[1][i], 0f);
    }
  }
}
