package org.nfnet.training;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.zoo.NFNetConfig;

/** Short names for this package's tests; the fixtures are located by {@link SharedFixtures}. */
final class Fixtures {
  private Fixtures() {}

  static Path shared() {
    return SharedFixtures.dir();
  }

  static Path t0() {
    return SharedFixtures.t0();
  }

  static JsonNode reference() {
    return SharedFixtures.reference();
  }

  /** The tiny T0 variant of the fixtures (10 classes, train size 64). */
  static NFNetConfig t0Config() {
    return SharedFixtures.t0Config();
  }

  static float[] floats(Path file) {
    return SharedFixtures.floats(file);
  }
}
