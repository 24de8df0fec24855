package org.nfnet.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.VariantJson;

/** The shared T0 fixtures ({@code nfnet.shared.dir}, set by surefire). */
final class Fixtures {
  private Fixtures() {}

  static Path shared() {
    String p = System.getProperty("nfnet.shared.dir");
    Path dir = p != null ? Path.of(p) : Path.of("..", "shared");
    if (!Files.isDirectory(dir)) {
      dir = Path.of("..", "..", "shared");
    }
    return dir.toAbsolutePath().normalize();
  }

  static Path t0() {
    return shared().resolve("fixtures/nfnet_t0");
  }

  static JsonNode reference() throws IOException {
    return new ObjectMapper().readTree(t0().resolve("reference.json").toFile());
  }

  /** The tiny T0 variant of the fixtures (10 classes, train size 64). */
  static NFNetConfig t0Config() {
    return VariantJson.load(t0().resolve("reference.json"));
  }

  static float[] floats(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    float[] f = new float[b.remaining() / 4];
    b.asFloatBuffer().get(f);
    return f;
  }
}
