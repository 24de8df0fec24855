package org.nfnet.savedmodel.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.savedmodel.ExportRoundTripTest;
import org.nfnet.savedmodel.ImageDecoder;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.savedmodel.TestModels;

/** The REST API against a T0 model base directory with versions 1 and 2 (different weights). */
class NFNetServerTest {
  @TempDir
  static Path tmp;
  static ServedModel served;
  static NFNetServer server;
  static NFNetModel v1;
  static NFNetModel v2;
  static HttpClient http = HttpClient.newHttpClient();
  static ObjectMapper json = new ObjectMapper();
  static BufferedImage img;
  static String png;

  @BeforeAll
  static void start() throws Exception {
    Path base = tmp.resolve("t0");
    new NFNetExporter(TestModels.t0()).parameters(TestModels.randomValues(7)).export(base.resolve("1"));
    new NFNetExporter(TestModels.t0()).parameters(TestModels.randomValues(8)).export(base.resolve("2"));
    served = ServedModel.load("t0", base, ServedModel.Policy.ALL, null, ImageDecoder.Limits.defaults());
    v1 = served.versions().get(1L);
    v2 = served.versions().get(2L);
    server = NFNetServer.start(served, NFNetServer.Options.defaults().withPort(0).withLimits(8, 2, 1L << 20));
    img = ExportRoundTripTest.testImage(64, 48);
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    ImageIO.write(img, "png", bos);
    png = Base64.getEncoder().encodeToString(bos.toByteArray());
  }

  @AfterAll
  static void stop() {
    server.close();
    served.close();
  }

  static HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode ok(HttpResponse<String> r) throws Exception {
    assertEquals(200, r.statusCode(), r.body());
    return json.readTree(r.body());
  }

  static void assertError(HttpResponse<String> r, int status, String fragment) throws Exception {
    assertEquals(status, r.statusCode(), r.body());
    assertTrue(json.readTree(r.body()).get("error").asText().contains(fragment), r.body());
  }

  static float[] floats(JsonNode arr) {
    float[] f = new float[arr.size()];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) arr.get(i).asDouble();
    }
    return f;
  }

  /** [h][w][3] uint8 nested list of the test image. */
  static String pixels(BufferedImage im) {
    StringBuilder sb = new StringBuilder("[");
    for (int y = 0; y < im.getHeight(); y++) {
      sb.append(y > 0 ? "," : "").append("[");
      for (int x = 0; x < im.getWidth(); x++) {
        int v = im.getRGB(x, y);
        sb.append(x > 0 ? "," : "").append("[").append((v >> 16) & 255).append(",").append((v >> 8) & 255)
            .append(",").append(v & 255).append("]");
      }
      sb.append("]");
    }
    return sb.append("]").toString();
  }

  @Test
  void b64InstancesGoToTheEncodedSignature() throws Exception {
    JsonNode p = ok(post("/v1/models/t0:predict", "{\"instances\": [{\"b64\": \"" + png
        + "\"}, {\"b64\": \"" + png + "\"}]}")).get("predictions");
    assertEquals(2, p.size());
    // row format with the input named per instance: the same answer
    JsonNode named = ok(post("/v1/models/t0:predict", "{\"instances\": [{\"image_bytes\": {\"b64\": \""
        + png + "\"}}]}")).get("predictions");
    assertEquals(p.get(0), named.get(0));
    assertEquals(5, p.get(0).get("top_k_labels").size());
    NFNetModel.Prediction top = v2.predict(Base64.getDecoder().decode(png)).get(0);
    assertEquals(top.index(), p.get(0).get("top_k_indices").get(0).asInt());
    assertEquals(top.label(), p.get(1).get("top_k_labels").get(0).asText());
    assertEquals(top.probability(), (float) p.get(0).get("top_k_probabilities").get(0).asDouble(), 1e-6);
  }

  @Test
  void versionsAreSelectedByUrlAndReported() throws Exception {
    byte[] bytes = Base64.getDecoder().decode(png);
    String body = "{\"signature_name\": \"encoded\", \"inputs\": {\"image_bytes\": [{\"b64\": \"" + png + "\"}]}}";
    float[] latest = floats(ok(post("/v1/models/t0:predict", body)).get("outputs").get("logits").get(0));
    float[] one = floats(ok(post("/v1/models/t0/versions/1:predict", body)).get("outputs").get("logits").get(0));
    float[] two = floats(ok(post("/v1/models/t0/versions/2:predict", body)).get("outputs").get("logits").get(0));
    assertArrayEquals(v2.logits(bytes)[0], latest, 1e-6f);
    assertArrayEquals(v2.logits(bytes)[0], two, 1e-6f);
    assertArrayEquals(v1.logits(bytes)[0], one, 1e-6f);
    assertFalse(java.util.Arrays.equals(one, two), "versions 1 and 2 have different weights");
    assertError(post("/v1/models/t0/versions/999:predict", body), 404, "Specific(t0, 999)");
    assertError(get("/v1/models/t0/versions/999"), 404, "version 999");
    assertError(get("/v1/models/t0/versions/999/metadata"), 404, "Specific(t0, 999)");
    JsonNode st = ok(get("/v1/models/t0")).get("model_version_status");
    assertEquals(2, st.size());
    assertEquals("2", st.get(0).get("version").asText());
    assertEquals("1", st.get(1).get("version").asText());
    assertEquals("AVAILABLE", st.get(1).get("state").asText());
    assertEquals(1, ok(get("/v1/models/t0/versions/1")).get("model_version_status").size());
    assertError(get("/v1/models/other"), 404, "Latest(other)");
  }

  @Test
  void defaultPolicyLoadsOnlyTheHighestVersion() throws Exception {
    try (ServedModel m = ServedModel.load("t0", tmp.resolve("t0"), ServedModel.Policy.LATEST, null,
        ImageDecoder.Limits.defaults())) {
      assertEquals(List.of(2L), new ArrayList<>(m.versions().keySet()));
    }
    IOException e = assertThrows(IOException.class, () -> ServedModel.load("x", tmp, ServedModel.Policy.LATEST,
        null, ImageDecoder.Limits.defaults()));
    assertTrue(e.getMessage().contains("numbered versions"), e.getMessage());
  }

  @Test
  void servedVersionsAreFrozenAtLoadWhenAsked() throws Exception {
    assertFalse(v1.frozenAtLoad() || v2.frozenAtLoad(), v1.weights() + ", " + v2.weights());
    try (ServedModel m = ServedModel.load("t0", tmp.resolve("t0"), ServedModel.Policy.LATEST,
        NFNetModel.Options.defaults().withFreeze(true))) {
      NFNetModel frozen = m.versions().get(2L);
      assertTrue(frozen.frozenAtLoad(), frozen.weights());
      float[] a = v2.predictImages(List.of(img)).logits()[0];
      float[] b = frozen.predictImages(List.of(img)).logits()[0];
      float scale = 0;
      for (int i = 0; i < a.length; i++) {
        scale = Math.max(scale, Math.abs(a[i]));
        assertEquals(a[i], b[i], 1e-5f * Math.max(1, Math.abs(a[i])), "logit " + i);
      }
      assertTrue(scale > 0.1f, "logits should be non-trivial, max " + scale);
    }
  }

  @Test
  void aVersionThatFailsToLoadIsReportedAsEnd() throws Exception {
    Path base = tmp.resolve("mixed");
    Files.createDirectories(base.resolve("3"));
    Files.createSymbolicLink(base.resolve("1"), tmp.resolve("t0/1"));
    Path pb = base.resolve("3/saved_model.pb");
    Files.write(pb, new byte[] {(byte) 0xff, 1, 2, 3});
    Files.copy(tmp.resolve("t0/1/model_card.json"), base.resolve("3/model_card.json"));
    IOException e = assertThrows(IOException.class, () -> ServedModel.load("m", base, ServedModel.Policy.LATEST,
        null, ImageDecoder.Limits.defaults()));
    assertTrue(e.getMessage().contains("version 3") && e.getMessage().contains(pb.toString()), e.getMessage());
    try (ServedModel m = ServedModel.load("m", base, ServedModel.Policy.ALL, null, ImageDecoder.Limits.defaults());
        NFNetServer s = NFNetServer.start(m, NFNetServer.Options.defaults().withPort(0))) {
      assertEquals(List.of(1L), new ArrayList<>(m.versions().keySet()));
      JsonNode st = json.readTree(http.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/v1/models/m")).GET()
          .build(), HttpResponse.BodyHandlers.ofString()).body()).get("model_version_status");
      assertEquals("3", st.get(0).get("version").asText());
      assertEquals("END", st.get(0).get("state").asText());
      assertTrue(st.get(0).get("status").get("error_message").asText().contains(pb.toString()), st.toString());
      assertEquals("AVAILABLE", st.get(1).get("state").asText());
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/v1/models/m:predict"))
          .POST(HttpRequest.BodyPublishers.ofString("{\"instances\": [{\"b64\": \"" + png + "\"}]}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
    }
  }

  @Test
  void columnarNamedUint8ImagesMatchTheJavaApi() throws Exception {
    JsonNode out = ok(post("/v1/models/t0:predict", "{\"signature_name\": \"serving_default\", \"inputs\": "
        + "{\"images\": [" + pixels(img) + "]}}")).get("outputs");
    assertArrayEquals(v2.logits(img)[0], floats(out.get("logits").get(0)), 1e-5f);
    assertEquals(5, out.get("top_k_indices").get(0).size());
    // row format with named inputs per instance
    JsonNode p = ok(post("/v1/models/t0:predict", "{\"instances\": [{\"images\": " + pixels(img) + "}, {\"images\": "
        + pixels(img) + "}]}")).get("predictions");
    assertEquals(2, p.size());
    assertArrayEquals(v2.logits(img)[0], floats(p.get(1).get("logits")), 1e-5f);
  }

  @Test
  void featuresAndLogitsFromNormalizedAreReachable() throws Exception {
    JsonNode f = ok(post("/v1/models/t0:predict", "{\"signature_name\": \"features\", \"instances\": ["
        + pixels(img) + "]}")).get("predictions");
    // one named output: each prediction is the value itself (TF Serving's rule)
    assertArrayEquals(v2.features(img)[0], floats(f.get(0)), 1e-5f);
    int s = 32;
    float[] x = new float[s * s * 3];
    StringBuilder sb = new StringBuilder("[[");
    for (int i = 0; i < s; i++) {
      sb.append(i > 0 ? "," : "").append("[");
      for (int j = 0; j < s; j++) {
        sb.append(j > 0 ? "," : "").append("[");
        for (int c = 0; c < 3; c++) {
          float v = (float) Math.sin(i * 0.3 + j * 0.7 + c);
          x[(i * s + j) * 3 + c] = v;
          sb.append(c > 0 ? "," : "").append(v);
        }
        sb.append("]");
      }
      sb.append("]");
    }
    sb.append("]]");
    JsonNode out = ok(post("/v1/models/t0:predict", "{\"signature_name\": \"logits_from_normalized\", "
        + "\"inputs\": {\"normalized\": " + sb + "}}")).get("outputs");
    assertArrayEquals(v2.logitsFromNormalized(FloatBuffer.wrap(x), 1, s, s)[0], floats(out.get("logits").get(0)), 1e-5f);
  }

  @Test
  void metadataIsTheRealSignatureDefMap() throws Exception {
    JsonNode m = ok(get("/v1/models/t0/metadata"));
    assertEquals("t0", m.get("model_spec").get("name").asText());
    assertEquals("2", m.get("model_spec").get("version").asText());
    JsonNode defs = m.get("metadata").get("signature_def").get("signature_def");
    for (String sig : new String[] {"serving_default", "encoded", "features", "logits_from_normalized"}) {
      assertEquals("tensorflow/serving/predict", defs.get(sig).get("method_name").asText(), sig);
    }
    JsonNode images = defs.get("serving_default").get("inputs").get("images");
    assertEquals("DT_UINT8", images.get("dtype").asText());
    assertEquals("[\"-1\",\"-1\",\"-1\",\"3\"]", json.writeValueAsString(images.get("tensor_shape").get("dim")
        .findValues("size")));
    assertFalse(images.get("tensor_shape").get("unknown_rank").asBoolean());
    assertTrue(images.get("name").asText().endsWith(":0"), images.toString());
    assertEquals("DT_STRING", defs.get("encoded").get("inputs").get("image_bytes").get("dtype").asText());
    assertEquals("DT_INT32", defs.get("serving_default").get("outputs").get("top_k_indices").get("dtype").asText());
    assertEquals("DT_FLOAT", defs.get("logits_from_normalized").get("inputs").get("normalized").get("dtype").asText());
    assertEquals("1", ok(get("/v1/models/t0/versions/1/metadata")).get("model_spec").get("version").asText());
  }

  @Test
  void classifyAnswersTfServingsMethodNameError() throws Exception {
    assertError(post("/v1/models/t0:classify", "{\"examples\": [{\"x\": 1}]}"), 400,
        "Expected classification signature method_name to be tensorflow/serving/classify. Was: "
            + "tensorflow/serving/predict");
    assertError(post("/v1/models/t0:regress", "{\"signature_name\": \"nope\", \"examples\": []}"), 400,
        "\"nope\" not found");
  }

  @Test
  void badRequestsGetAReason() throws Exception {
    String p = "/v1/models/t0:predict";
    assertError(post(p, "{\"instances\": [{\"b64\": "), 400, "malformed JSON");
    assertError(post(p, "{\"instances\": [{\"b64\": \""
        + Base64.getEncoder().encodeToString("definitely not an image".getBytes()) + "\"}]}"), 400,
        "not a JPEG/PNG/GIF/BMP");
    assertError(post(p, "{\"instances\": [{\"b64\": \"@@@\"}]}"), 400, "base64");
    assertError(post(p, "{\"instances\": [[[[1,2]]]]}"), 400, "expects [?,?,?,3]");
    assertError(post(p, "{\"instances\": [[[[1,2,3],[1,2,3]],[[1,2,3]]]]}"), 400, "ragged");
    assertError(post(p, "{\"instances\": [[[[1,2,3]]]]}"), 400, "too small");
    assertError(post(p, "{\"nothing\": 1}"), 400, "instances");
    assertError(post(p, "{\"instances\": [1], \"inputs\": [1]}"), 400, "not both");
    assertError(post(p, "{\"signature_name\": \"nope\", \"instances\": [1]}"), 400, "\"nope\" not found");
    assertError(post(p, "{\"inputs\": {\"imagez\": [1]}}"), 400, "no input 'imagez'");
    assertError(post(p, "{\"instances\": [" + pixels(ExportRoundTripTest.testImage(9, 9)).replace("[0,", "[0.5,")
        .replace("[1,", "[1.5,") + "]}"), 400, "integers 0..255");
    String big = "{\"instances\": [{\"b64\": \"" + "A".repeat(2 << 20) + "\"}]}";
    assertError(post(p, big), 413, "exceeds the limit");
    assertEquals(200, post(p, "{\"instances\": [{\"b64\": \"" + png + "\"}]}").statusCode());
  }

  @Test
  void modelRunLimitAnswers503() throws Exception {
    try (NFNetServer small = NFNetServer.start(served, NFNetServer.Options.defaults().withPort(0)
        .withLimits(64, 1, 1L << 20).withQueueTimeoutMillis(1))) {
      String body = "{\"instances\": [" + pixels(ExportRoundTripTest.testImage(256, 256)) + "]}";
      ExecutorService pool = Executors.newFixedThreadPool(12);
      List<Future<Integer>> fs = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        fs.add(pool.submit(() -> http.send(HttpRequest.newBuilder(URI.create(small.baseUrl() + "/v1/models/t0:predict"))
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()).statusCode()));
      }
      int busy = 0;
      int served200 = 0;
      for (Future<Integer> f : fs) {
        int s = f.get();
        assertTrue(s == 200 || s == 503, "status " + s);
        busy += s == 503 ? 1 : 0;
        served200 += s == 200 ? 1 : 0;
      }
      pool.shutdownNow();
      assertTrue(busy > 0 && served200 > 0, "200s: " + served200 + ", 503s: " + busy);
    }
  }

  @Test
  void corruptModelErrorNamesTheFile() throws Exception {
    Path bad = tmp.resolve("bad");
    new NFNetExporter(TestModels.t0()).parameters(TestModels.randomValues(1)).export(bad);
    Path pb = bad.resolve("saved_model.pb");
    byte[] b = Files.readAllBytes(pb);
    Files.write(pb, java.util.Arrays.copyOf(b, b.length / 3));
    IOException e = assertThrows(IOException.class, () -> NFNetModel.load(bad));
    assertTrue(e.getMessage().contains(pb.toString()), e.getMessage());
    Files.write(pb, b);
    try (var s = Files.list(bad.resolve("variables"))) {
      for (Path v : (Iterable<Path>) s::iterator) {
        if (v.getFileName().toString().startsWith("variables.data")) {
          Files.write(v, java.util.Arrays.copyOf(Files.readAllBytes(v), 100));
        }
      }
    }
    e = assertThrows(IOException.class, () -> NFNetModel.load(bad));
    assertTrue(e.getMessage().contains(bad.resolve("variables").toString()), e.getMessage());
  }
}
