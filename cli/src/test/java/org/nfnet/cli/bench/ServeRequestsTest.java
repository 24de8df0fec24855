package org.nfnet.cli.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.savedmodel.ImageDecoder;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.savedmodel.serving.JsonTensor;
import org.nfnet.savedmodel.serving.NFNetServer;
import org.nfnet.savedmodel.serving.ServedModel;
import org.nfnet.savedmodel.serving.TfServingJson;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.types.TUint8;

/**
 * The serve bench's three request bodies carry the image exactly (the float body reads back to the
 * same floats) and the server, built as the bench builds it, answers each with the logits of the
 * same image through the same signature called in-process.
 */
class ServeRequestsTest {
  @TempDir
  static Path tmp;

  @Test
  void eachBodyIsAcceptedAndAnswersWithTheInProcessLogits() throws Exception {
    NFNetConfig t0 = NFNetConfig.resolve(Path.of("..", "variants", "t0.json").toAbsolutePath().toString());
    Path dir = tmp.resolve("t0");
    new NFNetExporter(t0).parameters(RandomWeights.values(3)).export(dir);
    int res = t0.testImsize();
    ServeRequests.Image img = ServeRequests.Image.synthetic(res, res);
    byte[] floatBody = ServeRequests.floatBody(img.normalized(), res, res);

    TfServingJson.PredictRequest parsed = TfServingJson.parsePredict(new ByteArrayInputStream(floatBody));
    JsonTensor t = parsed.inputs().get(TfServingJson.UNNAMED);
    assertEquals("logits_from_normalized", parsed.signatureName());
    assertArrayEquals(new long[] {1, res, res, 3}, t.shape());
    assertArrayEquals(img.normalized(), t.numbers());

    try (NFNetModel bare = NFNetModel.load(dir);
        ServedModel served = ServedModel.load("nfnet", dir, ServedModel.Policy.LATEST, null,
            ImageDecoder.Limits.defaults());
        NFNetServer server = NFNetServer.start(served, ServeBench.serveOptions());
        TUint8 pixels = img.tensor()) {
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      URI uri = URI.create(server.baseUrl() + "/v1/models/nfnet:predict");
      assertClose(bare.logitsFromNormalized(FloatBuffer.wrap(img.normalized()), 1, res, res)[0],
          logits(ServeBench.post(http, uri, floatBody, 200)));
      assertClose(bare.predictUint8(pixels).logits()[0],
          logits(ServeBench.post(http, uri, ServeRequests.uint8Body(img.rgb(), res, res), 200)));
      assertClose(bare.predictEncoded(List.of(img.jpeg())).logits()[0],
          logits(ServeBench.post(http, uri, ServeRequests.jpegBody(img.jpeg()), 200)));
    }
  }

  private static float[] logits(byte[] answer) throws Exception {
    JsonNode row = new ObjectMapper().readTree(answer).get("predictions").get(0).get("logits");
    float[] v = new float[row.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = row.get(i).floatValue();
    }
    return v;
  }

  /** Same graph, same input, another session: equal up to float32 summation order. */
  private static void assertClose(float[] want, float[] got) {
    assertEquals(want.length, got.length);
    float scale = 0;
    for (float w : want) {
      scale = Math.max(scale, Math.abs(w));
    }
    assertArrayEquals(want, got, 1e-5f * Math.max(1, scale));
  }
}
