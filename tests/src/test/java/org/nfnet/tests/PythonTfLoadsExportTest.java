package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.converters.ConversionInput;
import org.nfnet.converters.ReadOptions;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.Precision;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * Python TensorFlow loads our exports: the T0 fixture weights of DeepMind's case 0 are exported
 * from Java, loaded with {@code tf.saved_model.load} in Python, and every signature is
 * called there and in Java on the same inputs. Each output must agree, and Python's
 * {@code logits_from_normalized} must reproduce DeepMind's JAX logits for the fixture input. The
 * same for a bf16 export, whose convolution parameters are bfloat16 variables.
 *
 * <p>Python comes from {@code -Dnfnet.python}, {@code $NFNET_PYTHON}, the virtualenv that
 * {@code .ci/install-deps} creates ({@code ~/.cache/nfnet-venv}) or {@code python3}; the test is
 * skipped when none of them can import tensorflow.
 */
class PythonTfLoadsExportTest {
  private static final Set<String> SIGNATURES =
      Set.of("serving_default", "encoded", "logits_from_normalized", "features");
  /** Same bound as {@link T0ParityTest}: exact-erf GELU or a wrong WS epsilon is 10x above it. */
  private static final double DEEPMIND_TOLERANCE = 2e-5;
  /**
   * Java (TF 2.18) and Python (TF 2.21) run the same graph with the same oneDNN kernels: every
   * output was bit-identical when measured (DeepMind's logits 1.05e-6 off in both). The margin
   * allows other kernel choices on other CPUs; a different network or preprocessing is off by
   * 1e-3 or more.
   */
  private static final double JAVA_PYTHON_TOLERANCE = 1e-6;

  @TempDir Path tmp;

  @Test
  void everySignatureAgreesBetweenJavaAndPython() throws Exception {
    String python = pythonWithTensorFlow();
    assumeTrue(python != null, "no Python with tensorflow (.ci/install-deps installs tensorflow-cpu"
        + " into ~/.cache/nfnet-venv); Python TF check skipped");

    NFNetConfig t0 = SharedFixtures.t0Config();
    JsonNode case0 = SharedFixtures.reference().get("cases").get(0);
    assertEquals("t0_seed5_p3.pkl", case0.get("weights").asText());
    Path export = tmp.resolve("t0");
    try (ConversionInput in = ConversionInput.open(SharedFixtures.t0().resolve("t0_seed5_release.pkl"), t0,
        ReadOptions.defaults(), true)) {
      new NFNetExporter(t0).parameters(in.float32Tensors()).export(export);
    }

    // Inputs: two 64x64 uint8 images (also as PNGs, lossless, for the encoded signature) and
    // DeepMind's normalized fixture input of case 0.
    int n = 2;
    int res = case0.get("res").asInt();
    byte[] pixels = new byte[n * res * res * 3];
    new Random(18).nextBytes(pixels);
    Path io = Files.createDirectories(tmp.resolve("io"));
    Files.write(io.resolve("images.u8"), pixels);
    List<String> pngs = new ArrayList<>();
    List<byte[]> pngBytes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] png = png(pixels, i, res);
      pngBytes.add(png);
      pngs.add("image" + i + ".png");
      Files.write(io.resolve(pngs.get(i)), png);
    }
    Path normalized = SharedFixtures.t0().resolve(case0.get("input").asText());
    Files.copy(normalized, io.resolve("normalized.f32"));
    ObjectMapper json = new ObjectMapper();
    ObjectNode manifest = json.createObjectNode();
    manifest.putObject("serving_default").set("images", arrayInput(json, "uint8", "images.u8", n, res));
    manifest.putObject("features").set("images", arrayInput(json, "uint8", "images.u8", n, res));
    manifest.putObject("logits_from_normalized")
        .set("normalized", arrayInput(json, "float32", "normalized.f32", n, res));
    ObjectNode enc = manifest.putObject("encoded").putObject("image_bytes");
    enc.put("dtype", "string");
    pngs.forEach(enc.putArray("files")::add);
    json.writeValue(io.resolve("inputs.json").toFile(), manifest);

    JsonNode py = json.readTree(runPython(python, export, io));
    compareWithJava(export, py, n, res, pixels, normalized, pngBytes);

    // Python's logits_from_normalized against DeepMind's JAX logits (and pooled features).
    JsonNode lfn = py.get("outputs").get("logits_from_normalized");
    double eLogits = SharedFixtures.relativeMaxError(case0.get("logits"),
        floats(lfn.get("logits").get("values")), t0.numClasses());
    double ePool = SharedFixtures.relativeMaxError(case0.get("pool"),
        floats(lfn.get("pooled").get("values")), t0.finalChannels());
    System.out.printf("Python TF %s vs DeepMind: logits %.3g, pooled %.3g of max|ref|%n",
        py.get("tf_version").asText(), eLogits, ePool);
    assertTrue(eLogits <= DEEPMIND_TOLERANCE, "Python logits off DeepMind's by " + eLogits);
    assertTrue(ePool <= DEEPMIND_TOLERANCE, "Python pooled off DeepMind's by " + ePool);

    // A bf16 export keeps its convolution kernels and biases in bfloat16 variables: Python TF
    // loads those too, and computes what Java does; against DeepMind's float32 logits the error is
    // bf16-sized (Bf16AgreementTest's bounds).
    Path export16 = tmp.resolve("t0_bf16");
    try (ConversionInput in = ConversionInput.open(SharedFixtures.t0().resolve("t0_seed5_release.pkl"), t0,
        ReadOptions.defaults(), true)) {
      new NFNetExporter(t0).parameters(in.float32Tensors()).precision(Precision.BFLOAT16)
          .export(export16);
    }
    JsonNode py16 = json.readTree(runPython(python, export16, io));
    compareWithJava(export16, py16, n, res, pixels, normalized, pngBytes);
    double e16 = SharedFixtures.relativeMaxError(case0.get("logits"), floats(py16.get("outputs")
        .get("logits_from_normalized").get("logits").get("values")), t0.numClasses());
    System.out.printf("Python TF, bf16 export vs DeepMind: logits %.3g of max|ref|%n", e16);
    assertTrue(e16 < 0.0125 && e16 > 1e-3, "bf16 logits off DeepMind's by " + e16);
  }

  /** Every signature's outputs in Java equal Python's ({@code py}) for the same inputs. */
  private static void compareWithJava(Path export, JsonNode py, int n, int res, byte[] pixels,
      Path normalized, List<byte[]> pngBytes) throws IOException {
    Set<String> pySignatures = new TreeSet<>();
    py.get("signatures").forEach(s -> pySignatures.add(s.asText()));
    assertTrue(pySignatures.containsAll(SIGNATURES), "Python TF " + py.get("tf_version") + " sees " + pySignatures);
    try (SavedModelBundle bundle = SavedModelBundle.load(export.toString(), NFNetExporter.TAG);
        TUint8 images = TUint8.tensorOf(Shape.of(n, res, res, 3), DataBuffers.of(pixels, true, false));
        TFloat32 norm = TFloat32.tensorOf(Shape.of(n, res, res, 3),
            DataBuffers.of(SharedFixtures.readF32(normalized)));
        TString bytes = TString.tensorOfBytes(NdArrays.vectorOfObjects(pngBytes.toArray(new byte[0][])))) {
      Map<String, Map<String, Tensor>> feeds = new LinkedHashMap<>();
      feeds.put("serving_default", Map.of("images", images));
      feeds.put("features", Map.of("images", images));
      feeds.put("logits_from_normalized", Map.of("normalized", norm));
      feeds.put("encoded", Map.of("image_bytes", bytes));
      for (var feed : feeds.entrySet()) {
        String sig = feed.getKey();
        JsonNode pyOut = py.get("outputs").get(sig);
        try (Result r = bundle.function(sig).call(feed.getValue())) {
          Set<String> pyKeys = new TreeSet<>();
          pyOut.fieldNames().forEachRemaining(pyKeys::add);
          assertEquals(new TreeSet<>(r.keySet()), pyKeys, sig + ": output names");
          for (String key : r.keySet()) {
            compare(sig + "." + key, r.get(key).orElseThrow(), pyOut.get(key));
          }
        }
      }
    }
  }

  private static void compare(String what, Tensor java, JsonNode py) {
    long[] shape = java.shape().asArray();
    long[] pyShape = new long[py.get("shape").size()];
    for (int i = 0; i < pyShape.length; i++) {
      pyShape[i] = py.get("shape").get(i).asLong();
    }
    assertArrayEquals(shape, pyShape, what + ": shape");
    JsonNode values = py.get("values");
    if (java instanceof TString s) {
      List<String> j = new ArrayList<>();
      s.scalars().forEach(x -> j.add(x.getObject()));
      List<String> p = new ArrayList<>();
      values.forEach(v -> p.add(v.asText()));
      assertEquals(j, p, what);
      return;
    }
    double[] j = doubles(java);
    assertEquals(j.length, values.size(), what + ": size");
    if (java instanceof TInt32) {
      for (int i = 0; i < j.length; i++) {
        assertEquals(j[i], values.get(i).asDouble(), what + "[" + i + "]");
      }
      return;
    }
    double range = 0;
    double diff = 0;
    for (int i = 0; i < j.length; i++) {
      range = Math.max(range, Math.abs(j[i]));
      diff = Math.max(diff, Math.abs(j[i] - values.get(i).asDouble()));
    }
    assertTrue(range > 0, what + ": all zero");
    System.out.printf("%s: Java vs Python max|diff| %.3g of max|value| %.3g%n", what, diff, range);
    assertTrue(diff <= JAVA_PYTHON_TOLERANCE * range,
        what + ": Java and Python differ by " + diff + " (max |value| " + range + ")");
  }

  private static double[] doubles(Tensor t) {
    double[] out = new double[(int) t.shape().size()];
    if (t instanceof TFloat32 f) {
      float[] v = new float[out.length];
      f.asRawTensor().data().asFloats().read(v);
      for (int i = 0; i < v.length; i++) {
        out[i] = v[i];
      }
    } else if (t instanceof TInt32 n) {
      int[] v = new int[out.length];
      n.asRawTensor().data().asInts().read(v);
      for (int i = 0; i < v.length; i++) {
        out[i] = v[i];
      }
    } else {
      throw new AssertionError("unexpected output type " + t.dataType());
    }
    return out;
  }

  private static float[] floats(JsonNode values) {
    float[] out = new float[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) values.get(i).asDouble();
    }
    return out;
  }

  private static ObjectNode arrayInput(ObjectMapper json, String dtype, String file, int n, int res) {
    ObjectNode d = json.createObjectNode().put("dtype", dtype).put("file", file);
    d.putArray("shape").add(n).add(res).add(res).add(3);
    return d;
  }

  private static byte[] png(byte[] pixels, int index, int res) throws IOException {
    BufferedImage img = new BufferedImage(res, res, BufferedImage.TYPE_INT_RGB);
    int base = index * res * res * 3;
    for (int y = 0; y < res; y++) {
      for (int x = 0; x < res; x++) {
        int p = base + (y * res + x) * 3;
        img.setRGB(x, y, (pixels[p] & 0xff) << 16 | (pixels[p + 1] & 0xff) << 8 | (pixels[p + 2] & 0xff));
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }

  private String runPython(String python, Path export, Path io) throws Exception {
    Path script = tmp.resolve("call_signatures.py");
    try (InputStream in = getClass().getResourceAsStream("/python/call_signatures.py")) {
      Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    Path stderr = tmp.resolve("python.err");
    Process p = new ProcessBuilder(python, script.toString(), export.toString(), io.toString())
        .redirectError(stderr.toFile()).start();
    byte[] out = p.getInputStream().readAllBytes();
    boolean done = p.waitFor(3, TimeUnit.MINUTES);
    if (!done) {
      p.destroyForcibly();
    }
    assertTrue(done && p.exitValue() == 0, "Python TF failed on the export:\n" + Files.readString(stderr));
    return new String(out, StandardCharsets.UTF_8);
  }

  /** The first candidate Python that imports tensorflow, or null. */
  static String pythonWithTensorFlow() throws InterruptedException {
    List<String> candidates = new ArrayList<>();
    String prop = System.getProperty("nfnet.python");
    if (prop != null && !prop.isBlank()) {
      candidates.add(prop);
    }
    String env = System.getenv("NFNET_PYTHON");
    if (env != null && !env.isBlank()) {
      candidates.add(env);
    }
    String venv = System.getenv().getOrDefault("NFNET_VENV",
        Path.of(System.getProperty("user.home"), ".cache", "nfnet-venv").toString());
    candidates.add(Path.of(venv, "bin", "python").toString());
    candidates.add("python3");
    for (String c : candidates) {
      try {
        // find_spec locates the package without importing it (an import takes seconds).
        Process p = new ProcessBuilder(c, "-c",
            "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorflow') is None)")
            .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (p.waitFor(2, TimeUnit.MINUTES) && p.exitValue() == 0) {
          return c;
        }
        p.destroyForcibly();
      } catch (IOException notThere) {
        // try the next candidate
      }
    }
    return null;
  }
}
