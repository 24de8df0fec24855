package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.nfnet.savedmodel.ImageDecoder;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.savedmodel.serving.HttpLimits;
import org.nfnet.savedmodel.serving.NFNetServer;
import org.nfnet.savedmodel.serving.ServedModel;
import org.nfnet.savedmodel.serving.TfServingJson;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.Precision;
import org.tensorflow.types.TUint8;

/**
 * Serving latency (section {@code serve}): one image at the variant's test size through
 * {@code nfnet serve}'s server, in-process on 127.0.0.1, against the same work called directly.
 * The model is the default export (float32, weights as variables), loaded twice: once as
 * {@code nfnet logits} loads it (the bare calls), once as {@code nfnet serve} serves it. Each round
 * times every HTTP request form a TF Serving client uses for an image ({@link ServeRequests}), over
 * one keep-alive connection, each next to the same work called in-process; the request
 * bodies are built once, outside the timings. Reported: p50/p90 of each, medians of per-round
 * ratios served/bare, and two parts of the overhead measured alone per body: the server's JSON
 * parse and the HTTP round trip of the body.
 */
final class ServeBench {
  /** A timed case: what it measures and the bare case its ratio is taken against (null: none). */
  private record Case(String key, String what, String bare) {}

  private static final Case[] CASES = {
      new Case("bare_float", "bare logits_from_normalized call (as `nfnet logits`)", null),
      new Case("http_float", "HTTP :predict, float32 [1,H,W,3] JSON array (logits_from_normalized)", "bare_float"),
      new Case("bare_uint8", "bare serving_default call on uint8 pixels", null),
      new Case("http_uint8", "HTTP :predict, uint8 [1,H,W,3] JSON array (serving_default)", "bare_uint8"),
      new Case("bare_jpeg", "bare encoded call on the JPEG bytes", null),
      new Case("http_jpeg", "HTTP :predict, JPEG as {\"b64\": ...} (encoded)", "bare_jpeg"),
  };

  private ServeBench() {}

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    NFNetConfig c = s.config();
    int res = c.testImsize();
    Path dir = InferenceBench.exported(s, c, new InferenceBench.Mode(Precision.FLOAT32,
        InferenceBench.Weights.VARIABLES));
    ServeRequests.Image img = ServeRequests.Image.synthetic(res, res);
    byte[][] bodies = {ServeRequests.floatBody(img.normalized(), res, res),
        ServeRequests.uint8Body(img.rgb(), res, res), ServeRequests.jpegBody(img.jpeg())};
    ObjectNode r = BenchSections.JSON.createObjectNode();
    StringBuilder summary = new StringBuilder();
    summary.append(String.format(Locale.ROOT, "%s @%dpx, one image; request bodies: float %.1f MB, uint8 %.2f MB,"
        + " JPEG %.1f kB (%d B image)%n", c.name(), res, bodies[0].length / 1e6, bodies[1].length / 1e6,
        bodies[2].length / 1e3, img.jpeg().length));
    r.put("float_body_bytes", bodies[0].length);
    r.put("uint8_body_bytes", bodies[1].length);
    r.put("jpeg_body_bytes", bodies[2].length);
    double[][] t = new double[CASES.length][s.repeats()];
    double[][] parse = new double[bodies.length][s.repeats()];
    double[][] transport = new double[bodies.length][s.repeats()];
    try (NFNetModel bare = NFNetModel.load(dir);
        ServedModel served = ServedModel.load("nfnet", dir, ServedModel.Policy.LATEST, null,
            ImageDecoder.Limits.defaults().withMaxImageBytes(64L << 20));
        NFNetServer server = NFNetServer.start(served, serveOptions());
        TUint8 pixels = img.tensor()) {
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      URI uri = URI.create(server.baseUrl() + "/v1/models/nfnet:predict");
      URI nowhere = URI.create(server.baseUrl() + "/v1/models/no-such-model:predict");
      for (int i = 0; i < s.warmup() + s.repeats(); i++) {
        double[] round = new double[CASES.length];
        float[] bareLogits = null;
        for (int f = 0; f < bodies.length; f++) {
          // Each form's bare call and request run back to back, in alternating order from round to
          // round, so that neither always runs first after the previous form's calls.
          for (int j = 0; j < 2; j++) {
            int k = 2 * f + ((i + j) % 2);
            long a = System.nanoTime();
            switch (CASES[k].key()) {
              case "bare_float" ->
                  bareLogits = bare.logitsFromNormalized(FloatBuffer.wrap(img.normalized()), 1, res, res)[0];
              case "bare_uint8" -> bare.predictUint8(pixels);
              case "bare_jpeg" -> bare.predictEncoded(List.of(img.jpeg()));
              default -> {
                byte[] answer = post(http, uri, bodies[f], 200);
                round[k] = (System.nanoTime() - a) / 1e9;
                if (i == 0 && f == 0) {
                  r.put("http_float_max_abs_logit_diff", maxAbsDiff(answer, bareLogits));
                }
              }
            }
            if (round[k] == 0) {
              round[k] = (System.nanoTime() - a) / 1e9;
            }
          }
        }
        // The parts of the HTTP overhead that grow with the body, each alone: the server's JSON
        // parse (in-process, no model run), and the transport (the client sends the body to an
        // unknown model: the server answers 404 after reading it, without parsing).
        double[] parsed = new double[bodies.length];
        double[] sent = new double[bodies.length];
        for (int f = 0; f < bodies.length; f++) {
          long a = System.nanoTime();
          TfServingJson.parsePredict(new ByteArrayInputStream(bodies[f]));
          parsed[f] = (System.nanoTime() - a) / 1e9;
          a = System.nanoTime();
          post(http, nowhere, bodies[f], 404);
          sent[f] = (System.nanoTime() - a) / 1e9;
        }
        if (i >= s.warmup()) {
          for (int k = 0; k < CASES.length; k++) {
            t[k][i - s.warmup()] = round[k];
          }
          for (int f = 0; f < bodies.length; f++) {
            parse[f][i - s.warmup()] = parsed[f];
            transport[f][i - s.warmup()] = sent[f];
          }
        }
      }
    }
    for (int k = 0; k < CASES.length; k++) {
      Case cs = CASES[k];
      Stats st = Stats.of(t[k]);
      double p90 = percentile(t[k], 0.9);
      r.set(cs.key() + "_seconds", BenchSections.stats(st, "s per image"));
      r.put(cs.key() + "_p50_ms", 1e3 * st.median());
      r.put(cs.key() + "_p90_ms", 1e3 * p90);
      summary.append(String.format(Locale.ROOT, "%-10s p50 %7.1f ms  p90 %7.1f ms (+-%.0f%%, %d runs)  %s%n",
          cs.key(), 1e3 * st.median(), 1e3 * p90, st.spreadPercent(), st.n(), cs.what()));
    }
    String[] forms = {"float", "uint8", "jpeg"};
    for (int f = 0; f < forms.length; f++) {
      int k = 2 * f + 1;
      double[] ratio = new double[s.repeats()];
      double[] overhead = new double[s.repeats()];
      for (int i = 0; i < ratio.length; i++) {
        ratio[i] = t[k][i] / t[k - 1][i];
        overhead[i] = t[k][i] - t[k - 1][i];
      }
      Stats rs = Stats.of(ratio);
      Stats ps = Stats.of(parse[f]);
      Stats ts = Stats.of(transport[f]);
      String key = "http_" + forms[f] + "_over_" + CASES[k].bare();
      r.put(key, rs.median());
      r.set(key + "_spread", BenchSections.stats(rs, "ratio"));
      r.put("http_" + forms[f] + "_overhead_ms", 1e3 * Stats.of(overhead).median());
      r.put("parse_" + forms[f] + "_ms", 1e3 * ps.median());
      r.put("transport_" + forms[f] + "_ms", 1e3 * ts.median());
      summary.append(String.format(Locale.ROOT, "%s: served / bare %.2fx (per-round median, %.2f..%.2f);"
          + " overhead %.1f ms; alone: JSON parse %.1f ms, HTTP round trip of the body %.1f ms%n", forms[f],
          rs.median(), rs.min(), rs.max(), 1e3 * Stats.of(overhead).median(), 1e3 * ps.median(),
          1e3 * ts.median()));
    }
    // The JPEG request (decode and resize-crop in the graph) against the bare logits call.
    int httpJpeg = CASES.length - 1;
    int bareFloat = 0;
    double[] jpegVsLogits = new double[s.repeats()];
    for (int i = 0; i < jpegVsLogits.length; i++) {
      jpegVsLogits[i] = t[httpJpeg][i] / t[bareFloat][i];
    }
    r.put("http_jpeg_over_bare_float", Stats.of(jpegVsLogits).median());
    summary.append(String.format(Locale.ROOT, "goal (issue 19, serve p50 <= 1.2x bare logits): float form %.2fx;"
        + " JPEG form (adds in-graph decode + resize) %.2fx; served logits vs bare: max |diff| %.2g",
        r.get("http_float_over_bare_float").asDouble(), Stats.of(jpegVsLogits).median(),
        r.path("http_float_max_abs_logit_diff").asDouble()));
    r.put("summary", summary.toString());
    return r;
  }

  /** The server as {@code nfnet serve} builds it with its default options, on an ephemeral port. */
  static NFNetServer.Options serveOptions() {
    HttpLimits http = HttpLimits.defaults().withMaxBodyBytes(32L << 20)
        .withConnections(Math.max(HttpLimits.defaults().maxConnections(), 64), 32);
    return NFNetServer.Options.defaults().withHost("127.0.0.1").withPort(0).withHttp(http);
  }

  static byte[] post(HttpClient http, URI uri, byte[] body, int expect) throws Exception {
    HttpResponse<byte[]> resp = http.send(HttpRequest.newBuilder(uri)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofByteArray());
    if (resp.statusCode() != expect) {
      throw new IllegalStateException("POST " + uri + " answered " + resp.statusCode() + ": "
          + new String(resp.body(), StandardCharsets.UTF_8));
    }
    return resp.body();
  }

  private static double maxAbsDiff(byte[] answer, float[] want) throws java.io.IOException {
    JsonNode row = BenchSections.JSON.readTree(answer).get("predictions").get(0).get("logits");
    double m = 0;
    for (int j = 0; j < want.length; j++) {
      m = Math.max(m, Math.abs(row.get(j).floatValue() - want[j]));
    }
    return m;
  }

  /** Nearest-rank percentile. */
  static double percentile(double[] v, double q) {
    double[] s = v.clone();
    java.util.Arrays.sort(s);
    return s[Math.max(0, (int) Math.ceil(q * s.length) - 1)];
  }
}
