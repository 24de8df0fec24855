package org.nfnet.tests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/** The read-only T0 fixture in ../shared (DeepMind's own outputs for a tiny NFNet). */
final class Fixtures {
  private Fixtures() {}

  static Path shared() {
    String p = System.getProperty("nfnet.shared.dir");
    Path dir = p != null ? Path.of(p) : Path.of("..", "..", "shared");
    return dir.toAbsolutePath().normalize();
  }

  static Path t0() {
    return shared().resolve("fixtures/nfnet_t0");
  }

  static Path t0Reference() {
    return t0().resolve("reference.json");
  }

  static JsonNode reference() {
    try {
      return new ObjectMapper().readTree(t0Reference().toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A raw float32 little-endian file. */
  static FloatBuffer readF32(Path file) {
    try {
      return ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** max |ours - ref| / max |ref| over a [rows, cols] JSON matrix. */
  static double relativeMaxError(JsonNode ref, float[] ours, int cols) {
    double maxRef = 0;
    double maxDiff = 0;
    for (int i = 0; i < ref.size(); i++) {
      for (int j = 0; j < cols; j++) {
        double r = ref.get(i).get(j).asDouble();
        maxRef = Math.max(maxRef, Math.abs(r));
        maxDiff = Math.max(maxDiff, Math.abs(r - ours[i * cols + j]));
      }
    }
    return maxDiff / maxRef;
  }
}
