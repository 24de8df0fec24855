package org.nfnet.savedmodel.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each request/response form of TF Serving's REST API documentation, as hand-written golden files
 * in {@code src/test/resources/tfserving/} (see the README there).
 */
class TfServingJsonGoldenTest {
  static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
  static final String[] FILES = {
      "row_single_input_scalars", "row_single_input_nested", "row_named_inputs", "columnar_named_inputs",
      "columnar_single_input", "binary_b64_columnar", "binary_b64_row_named", "nan_infinity",
      "error_both_forms", "error_ragged", "response_row_single_output", "response_row_multiple_outputs",
      "response_columnar_single_output", "response_columnar_multiple_outputs", "response_bytes_output"};

  static Stream<String> files() {
    return Stream.of(FILES);
  }

  static JsonNode golden(String name) throws Exception {
    try (InputStream in = TfServingJsonGoldenTest.class.getResourceAsStream("/tfserving/" + name + ".json")) {
      return JSON.readTree(in);
    }
  }

  @ParameterizedTest
  @MethodSource("files")
  void goldenForm(String name) throws Exception {
    JsonNode g = golden(name);
    if (g.has("response")) {
      checkResponse(g);
      return;
    }
    byte[] body = g.has("request_text") ? g.get("request_text").asText().getBytes(StandardCharsets.UTF_8)
        : JSON.writeValueAsBytes(g.get("request"));
    if (g.has("error")) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> TfServingJson.parsePredict(new ByteArrayInputStream(body)));
      assertEquals(400, e.status());
      assertTrue(e.getMessage().contains(g.get("error").asText()), e.getMessage());
      return;
    }
    TfServingJson.PredictRequest r = TfServingJson.parsePredict(new ByteArrayInputStream(body));
    JsonNode want = g.get("expect");
    assertEquals(want.get("row").asBoolean(), r.rowFormat(), name);
    assertEquals(want.has("signature_name") ? want.get("signature_name").asText() : null, r.signatureName());
    JsonNode inputs = want.get("inputs");
    assertEquals(inputs.size(), r.inputs().size(), name + ": " + r.inputs().keySet());
    for (Iterator<Map.Entry<String, JsonNode>> it = inputs.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonTensor t = r.inputs().get(e.getKey());
      assertTrue(t != null, name + ": missing input '" + e.getKey() + "'");
      JsonNode w = e.getValue();
      assertArrayEquals(JSON.convertValue(w.get("shape"), long[].class), t.shape(), name + "/" + e.getKey());
      if (w.has("numbers")) {
        float[] expect = new float[w.get("numbers").size()];
        for (int i = 0; i < expect.length; i++) {
          JsonNode v = w.get("numbers").get(i);
          expect[i] = v.isTextual() ? Float.parseFloat(v.asText()) : (float) v.asDouble();
        }
        assertArrayEquals(expect, t.numbers(), name);
      } else {
        List<String> got = new ArrayList<>();
        for (byte[] b : t.strings()) {
          got.add(w.has("b64") ? Base64.getEncoder().encodeToString(b) : new String(b, StandardCharsets.UTF_8));
        }
        assertEquals(JSON.convertValue(w.has("b64") ? w.get("b64") : w.get("strings"), List.class), got, name);
      }
    }
  }

  private static void checkResponse(JsonNode g) throws Exception {
    TreeMap<String, TfServingJson.Output> outs = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = g.get("outputs").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode o = e.getValue();
      long[] shape = JSON.convertValue(o.get("shape"), long[].class);
      TfServingJson.Output out;
      if (o.has("floats")) {
        out = TfServingJson.Output.ofFloats(shape, JSON.convertValue(o.get("floats"), float[].class));
      } else if (o.has("ints")) {
        out = TfServingJson.Output.ofInts(shape, JSON.convertValue(o.get("ints"), int[].class));
      } else {
        boolean b64 = o.has("strings_b64");
        List<String> s = JSON.convertValue(b64 ? o.get("strings_b64") : o.get("strings"), List.class);
        byte[][] v = new byte[s.size()][];
        for (int i = 0; i < v.length; i++) {
          v[i] = b64 ? Base64.getDecoder().decode(s.get(i)) : s.get(i).getBytes(StandardCharsets.UTF_8);
        }
        out = TfServingJson.Output.ofStrings(shape, v);
      }
      outs.put(e.getKey(), out);
    }
    byte[] written = TfServingJson.writePredict(g.get("row").asBoolean(), outs);
    assertEquals(g.get("response"), JSON.readTree(written), new String(written, StandardCharsets.UTF_8));
  }
}
