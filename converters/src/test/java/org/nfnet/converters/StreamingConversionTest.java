package org.nfnet.converters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.VariantJson;
import org.tensorflow.types.TFloat32;

/**
 * The reader side of the streaming conversion: each parameter is written straight into the memory
 * of the tensor handed to the exporter, no Java-side copy (the exporter side - one parameter in
 * flight at a time - is checked in the tests module, {@code StreamingExportTest}).
 */
class StreamingConversionTest {
  private static final Path T0 = TestFiles.T0_DIR.resolve("t0_seed5_release.pkl");

  @TempDir
  Path dir;

  @Test
  void tensorsAreFilledInPlaceWithTheFileValues() throws IOException {
    NFNetConfig t0 = VariantJson.load(TestFiles.T0_DIR.resolve("reference.json"));
    try (ConversionInput in = ConversionInput.open(T0, t0, ReadOptions.defaults(), true)) {
      Function<ParameterSpec, TFloat32> values = in.float32Tensors();
      for (ParameterSpec s : in.parameters()) {
        try (TFloat32 t = values.apply(s)) {
          // The reader's destination is the tensor's own memory, not a Java-side buffer.
          assertTrue(TensorMemory.writableBytes(t).isPresent(), s.haikuKey());
          assertEquals(s.size(), t.size(), s.haikuKey());
          float[] expected = in.array(s).toFloatArray();
          ByteBuffer mem = TensorMemory.writableBytes(t).get();
          for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(mem.getFloat(4 * i)),
                s.haikuKey() + "[" + i + "]");
          }
        }
      }
    }
  }
}
