package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Base64;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NFNetServerTest {
  @TempDir
  static Path tmp;
  static NFNetModel model;
  static NFNetServer server;
  static HttpClient http = HttpClient.newHttpClient();
  static ObjectMapper json = new ObjectMapper();
  static String png;

  @BeforeAll
  static void start() throws Exception {
    Path dir = tmp.resolve("t0");
    new NFNetExporter(TestModels.t0()).parameters(TestModels.randomValues(7)).export(dir);
    model = NFNetModel.load(dir);
    server = NFNetServer.start(model, "t0", NFNetServer.Options.defaults().withPort(0)
        .withLimits(8, 2, 1L << 20));
    BufferedImage img = ExportRoundTripTest.testImage(64, 48);
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    ImageIO.write(img, "png", bos);
    png = Base64.getEncoder().encodeToString(bos.toByteArray());
  }

  @AfterAll
  static void stop() {
    server.close();
    model.close();
  }

  static HttpResponse<String> post(String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/models/t0:predict"))
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  static void assertError(HttpResponse<String> r, int status, String fragment) throws Exception {
    assertEquals(status, r.statusCode(), r.body());
    JsonNode e = json.readTree(r.body());
    assertTrue(e.get("error").asText().contains(fragment), r.body());
  }

  @Test
  void b64InstancesGivePredictions() throws Exception {
    HttpResponse<String> r = post("{\"instances\": [{\"b64\": \"" + png + "\"}, {\"image_bytes\": {\"b64\": \""
        + png + "\"}}]}");
    assertEquals(200, r.statusCode(), r.body());
    JsonNode p = json.readTree(r.body()).get("predictions");
    assertEquals(2, p.size());
    assertEquals(5, p.get(0).get("top_k_labels").size());
    assertEquals(10, p.get(0).get("logits").size());
    assertEquals(p.get(0).get("top_k_indices"), p.get(1).get("top_k_indices"));
    assertEquals("class_" + p.get(0).get("top_k_indices").get(0).asInt(),
        p.get(0).get("top_k_labels").get(0).asText());
    // same answer as the in-process API
    NFNetModel.Prediction top = model.predict(Base64.getDecoder().decode(png)).get(0);
    assertEquals(top.index(), p.get(0).get("top_k_indices").get(0).asInt());
    assertEquals(top.probability(), (float) p.get(0).get("top_k_probabilities").get(0).asDouble(), 1e-6);
  }

  @Test
  void uint8ArrayInstancesGivePredictions() throws Exception {
    StringBuilder sb = new StringBuilder("{\"instances\": [[");
    for (int y = 0; y < 40; y++) {
      sb.append(y > 0 ? "," : "").append("[");
      for (int x = 0; x < 36; x++) {
        sb.append(x > 0 ? "," : "").append("[").append((x * 7) % 256).append(",").append(y).append(",9]");
      }
      sb.append("]");
    }
    sb.append("]]}");
    HttpResponse<String> r = post(sb.toString());
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(1, json.readTree(r.body()).get("predictions").size());
  }

  @Test
  void badRequestsAre400WithJsonError() throws Exception {
    assertError(post("{\"instances\": [{\"b64\": "), 400, "malformed JSON");
    assertError(post("{\"instances\": [{\"b64\": \""
        + Base64.getEncoder().encodeToString("definitely not an image".getBytes()) + "\"}]}"), 400,
        "not a JPEG/PNG/GIF/BMP");
    assertError(post("{\"instances\": [{\"b64\": \"@@@\"}]}"), 400, "base64");
    assertError(post("{\"instances\": [" + arrayImage(32, 32, 2) + "]}"), 400, "expected [r, g, b]");
    assertError(post("{\"instances\": [" + arrayImage(32, 32, 3) + "," + arrayImage(33, 32, 3) + "]}"),
        400, "same shape");
    assertError(post("{\"instances\": [[[[1,2,3]]]]}"), 400, "too small");
    assertError(post("{\"nothing\": 1}"), 400, "instances");
    // oversize (limit set to 1 MiB for this server)
    String big = "{\"instances\": [{\"b64\": \"" + "A".repeat(2 << 20) + "\"}]}";
    assertError(post(big), 400, "exceeds the limit");
    // still healthy afterwards
    assertEquals(200, post("{\"instances\": [{\"b64\": \"" + png + "\"}]}").statusCode());
  }

  static String arrayImage(int h, int w, int c) {
    StringBuilder sb = new StringBuilder("[");
    for (int y = 0; y < h; y++) {
      sb.append(y > 0 ? "," : "").append("[");
      for (int x = 0; x < w; x++) {
        sb.append(x > 0 ? "," : "").append("[");
        for (int k = 0; k < c; k++) {
          sb.append(k > 0 ? "," : "").append((x + y + k) % 256);
        }
        sb.append("]");
      }
      sb.append("]");
    }
    return sb.append("]").toString();
  }

  @Test
  void statusEndpointLikeTfServing() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/models/t0"))
        .GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    JsonNode s = json.readTree(r.body()).get("model_version_status").get(0);
    assertEquals("AVAILABLE", s.get("state").asText());
    assertEquals("OK", s.get("status").get("error_code").asText());
    HttpResponse<String> missing = http.send(HttpRequest.newBuilder(
        URI.create(server.baseUrl() + "/v1/models/other")).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, missing.statusCode());
  }
}
