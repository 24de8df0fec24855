package org.nfnet.savedmodel.serving;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;

/**
 * TF Serving's REST JSON forms (tensorflow.org/tfx/serving/api_rest), independent of HTTP and of
 * TensorFlow: predict requests in row ({@code "instances"}) and columnar ({@code "inputs"})
 * format, named or single inputs, {@code {"b64": ...}} binary values, NaN/Infinity tokens; and
 * predict responses ({@code "predictions"} / {@code "outputs"}), where outputs whose name ends in
 * {@code _bytes} are written as {@code {"b64": ...}}.
 *
 * <p>Requests are parsed with Jackson's streaming parser straight into {@link JsonTensor}s
 * (4 bytes per number), never into a tree: a 32 MB body of pixel values costs about as much as
 * its text, not the ~10x of a {@code JsonNode} tree.
 */
public final class TfServingJson {
  /** The key of the single input in {@link PredictRequest#inputs()} when the request names none. */
  public static final String UNNAMED = "";

  /** A parsed predict request. */
  public record PredictRequest(String signatureName, boolean rowFormat, Map<String, JsonTensor> inputs) {}

  /** An output tensor to write: shape and exactly one of the value arrays. */
  public record Output(long[] shape, float[] floats, int[] ints, long[] longs, byte[][] strings) {
    public static Output ofFloats(long[] shape, float[] v) {
      return new Output(shape, v, null, null, null);
    }

    public static Output ofInts(long[] shape, int[] v) {
      return new Output(shape, null, v, null, null);
    }

    public static Output ofLongs(long[] shape, long[] v) {
      return new Output(shape, null, null, v, null);
    }

    public static Output ofStrings(long[] shape, byte[][] v) {
      return new Output(shape, null, null, null, v);
    }
  }

  // The fast (Lemire/FastDoubleParser, bundled in jackson-core) decimal parser is correctly
  // rounded like Double.parseDouble and twice as fast: an image of float pixels is ~200k numbers.
  private static final JsonFactory FACTORY = JsonFactory.builder()
      .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
      .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
      .disable(JsonWriteFeature.WRITE_NAN_AS_STRINGS)
      .build();

  private TfServingJson() {}

  /** Parses a predict request body. */
  public static PredictRequest parsePredict(InputStream body) throws IOException, HttpStatusException {
    try (JsonParser p = FACTORY.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new HttpStatusException(400, "request body must be a JSON object");
      }
      String signature = null;
      Map<String, JsonTensor> inputs = null;
      Boolean row = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String key = p.currentName();
        p.nextToken();
        switch (key) {
          case "signature_name" -> {
            if (p.currentToken() != JsonToken.VALUE_STRING) {
              throw new HttpStatusException(400, "'signature_name' must be a string");
            }
            signature = p.getText();
          }
          case "instances", "inputs" -> {
            if (row != null) {
              throw new HttpStatusException(400,
                  "a request can have 'instances' or 'inputs', not both");
            }
            row = key.equals("instances");
            inputs = row ? instances(p) : columns(p);
          }
          default -> p.skipChildren();
        }
      }
      if (row == null) {
        throw new HttpStatusException(400, "missing 'instances' (row format) or 'inputs' (columnar format)");
      }
      return new PredictRequest(signature, row, inputs);
    } catch (JsonProcessingException e) {
      throw new HttpStatusException(400, "malformed JSON: " + e.getOriginalMessage());
    }
  }

  /** Only the top-level {@code signature_name} of a body (for classify/regress), skipping the rest. */
  public static String signatureName(InputStream body) throws IOException, HttpStatusException {
    try (JsonParser p = FACTORY.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new HttpStatusException(400, "request body must be a JSON object");
      }
      String signature = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String key = p.currentName();
        p.nextToken();
        if (key.equals("signature_name") && p.currentToken() == JsonToken.VALUE_STRING) {
          signature = p.getText();
        } else {
          p.skipChildren();
        }
      }
      return signature;
    } catch (JsonProcessingException e) {
      throw new HttpStatusException(400, "malformed JSON: " + e.getOriginalMessage());
    }
  }

  /** Row format: a list whose items are values of the one input or objects of named values. */
  private static Map<String, JsonTensor> instances(JsonParser p) throws IOException, HttpStatusException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw new HttpStatusException(400, "'instances' must be a list (one item per instance)");
    }
    Map<String, JsonTensor> named = new LinkedHashMap<>();
    JsonTensor single = null;
    long n = 0;
    while (p.nextToken() != JsonToken.END_ARRAY) {
      boolean isNamed = false;
      if (p.currentToken() == JsonToken.START_OBJECT) {
        JsonToken t = p.nextToken();
        isNamed = !(t == JsonToken.FIELD_NAME && p.currentName().equals("b64"));
        if (isNamed) {
          if (single != null) {
            throw new HttpStatusException(400, "instance " + n + " is an object of named inputs but"
                + " earlier instances are plain values");
          }
          int keys = 0;
          for (; t == JsonToken.FIELD_NAME; t = p.nextToken()) {
            String name = p.currentName();
            JsonTensor acc = named.computeIfAbsent(name, k -> new JsonTensor());
            if (acc.dims0() != n) {
              throw new HttpStatusException(400, "instance " + n + ": input '" + name
                  + "' is missing from an earlier instance or given twice");
            }
            p.nextToken();
            value(p, acc, 1);
            acc.countInstance();
            keys++;
          }
          if (keys != named.size()) {
            throw new HttpStatusException(400, "instance " + n + " names " + keys + " inputs, earlier"
                + " instances " + named.size() + ": every instance must give every named input");
          }
        } else {
          single = single(named, single, n);
          b64Rest(p, single, 1);
        }
      } else {
        single = single(named, single, n);
        value(p, single, 1);
      }
      n++;
    }
    if (n == 0) {
      throw new HttpStatusException(400, "'instances' is empty");
    }
    if (single != null) {
      single.dim(0, n);
      return Map.of(UNNAMED, single);
    }
    for (JsonTensor t : named.values()) {
      t.dim(0, n);
    }
    return named;
  }

  private static JsonTensor single(Map<String, JsonTensor> named, JsonTensor single, long n)
      throws HttpStatusException {
    if (!named.isEmpty()) {
      throw new HttpStatusException(400, "instance " + n + " is a plain value but earlier instances"
          + " are objects of named inputs");
    }
    return single != null ? single : new JsonTensor();
  }

  /** Columnar format: one tensor, or an object of named tensors. */
  private static Map<String, JsonTensor> columns(JsonParser p) throws IOException, HttpStatusException {
    if (p.currentToken() == JsonToken.START_OBJECT) {
      JsonToken t = p.nextToken();
      if (t == JsonToken.FIELD_NAME && p.currentName().equals("b64")) {
        JsonTensor one = new JsonTensor();
        b64Rest(p, one, 0);
        return Map.of(UNNAMED, one);
      }
      Map<String, JsonTensor> named = new LinkedHashMap<>();
      for (; t == JsonToken.FIELD_NAME; t = p.nextToken()) {
        String name = p.currentName();
        if (named.containsKey(name)) {
          throw new HttpStatusException(400, "input '" + name + "' given twice");
        }
        JsonTensor acc = new JsonTensor();
        p.nextToken();
        value(p, acc, 0);
        named.put(name, acc);
      }
      if (named.isEmpty()) {
        throw new HttpStatusException(400, "'inputs' is an empty object");
      }
      return named;
    }
    JsonTensor one = new JsonTensor();
    value(p, one, 0);
    return Map.of(UNNAMED, one);
  }

  /** One (nested) value at nesting depth {@code d}; the parser is on its first token. */
  private static void value(JsonParser p, JsonTensor acc, int d) throws IOException, HttpStatusException {
    switch (p.currentToken()) {
      case START_ARRAY -> {
        long n = 0;
        while (p.nextToken() != JsonToken.END_ARRAY) {
          value(p, acc, d + 1);
          n++;
        }
        acc.dim(d, n);
      }
      case START_OBJECT -> {
        if (p.nextToken() != JsonToken.FIELD_NAME || !p.currentName().equals("b64")) {
          throw new HttpStatusException(400, "objects inside a tensor must be {\"b64\": \"...\"}");
        }
        b64Rest(p, acc, d);
      }
      // As TF Serving (rapidjson's GetFloat): the number read as a double, then cast to float.
      case VALUE_NUMBER_INT -> acc.addNumber(d, (float) p.getDoubleValue(), true);
      case VALUE_NUMBER_FLOAT -> acc.addNumber(d, (float) p.getDoubleValue(), false);
      case VALUE_STRING -> acc.addString(d, p.getText().getBytes(StandardCharsets.UTF_8));
      case VALUE_TRUE, VALUE_FALSE -> acc.addBoolean(d, p.getBooleanValue());
      default -> throw new HttpStatusException(400, "unexpected " + p.currentToken() + " in a tensor");
    }
  }

  /** The rest of {@code {"b64": "..."}} after its field name. */
  private static void b64Rest(JsonParser p, JsonTensor acc, int d) throws IOException, HttpStatusException {
    if (p.nextToken() != JsonToken.VALUE_STRING) {
      throw new HttpStatusException(400, "\"b64\" must be a base64 string");
    }
    byte[] bytes;
    try {
      bytes = Base64.getDecoder().decode(p.getText());
    } catch (IllegalArgumentException e) {
      throw new HttpStatusException(400, "invalid base64 in \"b64\": " + e.getMessage());
    }
    if (p.nextToken() != JsonToken.END_OBJECT) {
      throw new HttpStatusException(400, "a {\"b64\": ...} object must have no other keys");
    }
    acc.addString(d, bytes);
  }

  // ---------------------------------------------------------------- responses

  /**
   * A predict response: row format gives {@code {"predictions": [...]}} (per instance, an object of
   * named outputs or, with one output, its value); columnar gives {@code {"outputs": ...}}.
   */
  public static byte[] writePredict(boolean rowFormat, SortedMap<String, Output> outputs)
      throws HttpStatusException {
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    try (JsonGenerator g = FACTORY.createGenerator(bos)) {
      g.writeStartObject();
      boolean one = outputs.size() == 1;
      if (rowFormat) {
        long n = -1;
        for (Map.Entry<String, Output> e : outputs.entrySet()) {
          long[] s = e.getValue().shape();
          long b = s.length == 0 ? -1 : s[0];
          if (b < 0 || (n >= 0 && b != n)) {
            throw new HttpStatusException(400, "output '" + e.getKey() + "' has no batch dimension"
                + " shared with the other outputs; use the columnar format ('inputs')");
          }
          n = b;
        }
        g.writeArrayFieldStart("predictions");
        for (long i = 0; i < n; i++) {
          if (!one) {
            g.writeStartObject();
          }
          for (Map.Entry<String, Output> e : outputs.entrySet()) {
            if (!one) {
              g.writeFieldName(e.getKey());
            }
            Output o = e.getValue();
            long per = elements(o.shape(), 1);
            write(g, o, e.getKey().endsWith("_bytes"), 1, i * per);
          }
          if (!one) {
            g.writeEndObject();
          }
        }
        g.writeEndArray();
      } else {
        g.writeFieldName("outputs");
        if (!one) {
          g.writeStartObject();
        }
        for (Map.Entry<String, Output> e : outputs.entrySet()) {
          if (!one) {
            g.writeFieldName(e.getKey());
          }
          write(g, e.getValue(), e.getKey().endsWith("_bytes"), 0, 0);
        }
        if (!one) {
          g.writeEndObject();
        }
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory cannot fail", e);
    }
    return bos.toByteArray();
  }

  private static long elements(long[] shape, int from) {
    long n = 1;
    for (int i = from; i < shape.length; i++) {
      n *= shape[i];
    }
    return n;
  }

  /** Writes the sub-tensor at {@code depth} starting at flat index {@code at}. */
  private static void write(JsonGenerator g, Output o, boolean b64, int depth, long at) throws IOException {
    long[] s = o.shape();
    if (depth == s.length) {
      int i = (int) at;
      if (o.floats() != null) {
        g.writeNumber(o.floats()[i]);
      } else if (o.ints() != null) {
        g.writeNumber(o.ints()[i]);
      } else if (o.longs() != null) {
        g.writeNumber(o.longs()[i]);
      } else if (b64) {
        g.writeStartObject();
        g.writeStringField("b64", Base64.getEncoder().encodeToString(o.strings()[i]));
        g.writeEndObject();
      } else {
        g.writeString(new String(o.strings()[i], StandardCharsets.UTF_8));
      }
      return;
    }
    long stride = elements(s, depth + 1);
    g.writeStartArray();
    for (long k = 0; k < s[depth]; k++) {
      write(g, o, b64, depth + 1, at + k * stride);
    }
    g.writeEndArray();
  }
}
