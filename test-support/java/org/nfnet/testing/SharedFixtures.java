package org.nfnet.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.VariantJson;

/**
 * The one locator of the read-only shared fixtures ({@code ../shared} beside the repository:
 * DeepMind's reference outputs for the tiny variant T0, the Haiku structures). Compiled into the
 * test classes of every module (build-helper {@code add-test-source} in the parent POM), so each
 * module's tests use the same code without a published test artifact.
 *
 * <p>Surefire passes the directory as {@code nfnet.shared.dir}; without it (an IDE run) the first
 * {@code shared} directory beside the working directory or one of its parents is used.
 */
public final class SharedFixtures {
  private static final ObjectMapper JSON = new ObjectMapper();

  private SharedFixtures() {}

  /** The shared fixture root, absolute. */
  public static Path dir() {
    String p = System.getProperty("nfnet.shared.dir");
    if (p != null && !p.isBlank() && Files.isDirectory(Path.of(p))) {
      return Path.of(p).toAbsolutePath().normalize();
    }
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.isDirectory(d.resolve("shared").resolve("fixtures"))) {
        return d.resolve("shared").toAbsolutePath().normalize();
      }
    }
    throw new IllegalStateException("the shared test fixtures were not found (nfnet.shared.dir="
        + p + ", no shared/fixtures beside " + Path.of("").toAbsolutePath() + " or its parents)");
  }

  /** {@code reference/structures.json}: Haiku names and shapes of F0..F7. */
  public static Path structures() {
    return dir().resolve("reference/structures.json");
  }

  /** {@code fixtures/nfnet_t0}: T0's weights, inputs and {@code reference.json}. */
  public static Path t0() {
    return dir().resolve("fixtures/nfnet_t0");
  }

  public static Path t0Reference() {
    return t0().resolve("reference.json");
  }

  /** The parsed {@code reference.json} (variant, shapes, cases, train_step). */
  public static JsonNode reference() {
    try {
      return JSON.readTree(t0Reference().toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** T0 as DeepMind's code built it: {@code reference.json}'s variant entry and class count. */
  public static NFNetConfig t0Config() {
    return VariantJson.parse(t0VariantJson().toString(), "T0");
  }

  /**
   * T0's variant as a variant JSON file (for commands and child JVMs that take a path), written
   * once to {@code target/test-fixtures/t0.json} of the running module.
   */
  public static synchronized Path t0VariantFile() {
    Path file = Path.of("target", "test-fixtures", "t0.json").toAbsolutePath();
    try {
      if (!Files.isRegularFile(file)) {
        Files.createDirectories(file.getParent());
        Path tmp = Files.createTempFile(file.getParent(), "t0", ".tmp");
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), t0VariantJson());
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  private static ObjectNode t0VariantJson() {
    JsonNode root = reference();
    ObjectNode v = ((ObjectNode) root.get("variant")).deepCopy();
    v.put("name", "T0");
    v.set("num_classes", root.get("num_classes"));
    return v;
  }

  /** A raw little-endian float32 file. */
  public static FloatBuffer readF32(Path file) {
    try {
      return ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@link #readF32} as an array. */
  public static float[] floats(Path file) {
    FloatBuffer b = readF32(file);
    float[] f = new float[b.remaining()];
    b.get(f);
    return f;
  }

  /** max |ours - ref| / max |ref| over a [rows, cols] JSON matrix (e.g. a case's logits). */
  public static double relativeMaxError(JsonNode ref, float[] ours, int cols) {
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
