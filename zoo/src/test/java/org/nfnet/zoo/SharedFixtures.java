package org.nfnet.zoo;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates {@code ../shared} (read-only fixtures) from the Maven-provided system property. */
final class SharedFixtures {
  private SharedFixtures() {}

  static Path dir() {
    String p = System.getProperty("nfnet.shared.dir");
    Path dir = p != null ? Path.of(p) : Path.of("..", "shared");
    if (!Files.isDirectory(dir)) {
      dir = Path.of("..", "..", "shared");
    }
    return dir.toAbsolutePath().normalize();
  }

  static Path structures() {
    return dir().resolve("reference/structures.json");
  }

  static Path t0() {
    return dir().resolve("fixtures/nfnet_t0");
  }
}
