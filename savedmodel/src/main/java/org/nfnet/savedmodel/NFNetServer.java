package org.nfnet.savedmodel;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TUint8;

/**
 * A TF Serving compatible REST front end for one {@link NFNetModel}, on the JDK's HttpServer.
 *
 * <ul>
 *   <li>{@code POST /v1/models/<name>:predict} (also {@code /v1/models/<name>/versions/<v>:predict})
 *       with {@code {"instances": [{"b64": "..."}, ...]}}, {@code {"instances": [{"image_bytes":
 *       {"b64": "..."}}]}}, or uint8 images as nested arrays {@code [[[r,g,b],...],...]} (all the
 *       same size); optional {@code "signature_name"} ({@code serving_default} or
 *       {@code encoded}). Response {@code {"predictions": [{"top_k_labels": [...],
 *       "top_k_indices": [...], "top_k_probabilities": [...], "logits": [...],
 *       "probabilities": [...]}]}} (row format, as TF Serving).</li>
 *   <li>{@code GET /v1/models/<name>}: TF Serving's model status JSON.</li>
 * </ul>
 *
 * <p>Bounded: request bodies over {@code maxBodyBytes} are rejected; at most
 * {@code maxInFlight} requests are admitted (429 beyond); at most {@code maxConcurrentRuns}
 * session runs at once, waiting at most {@code queueTimeoutMillis} (503 after). Any bad input
 * (malformed JSON, non-image bytes, wrong shapes, oversize) is a 400 with {@code {"error": ...}}.
 */
public final class NFNetServer implements AutoCloseable {
  /** Tunables. */
  public record Options(String host, int port, int threads, int maxInFlight, int maxConcurrentRuns,
      long maxBodyBytes, int maxBatch, long queueTimeoutMillis, boolean includeFullOutputs) {
    public static Options defaults() {
      int cores = Runtime.getRuntime().availableProcessors();
      return new Options("127.0.0.1", 8501, 8, 32, Math.max(1, cores / 2), 32L << 20, 64,
          30_000, true);
    }

    public Options withPort(int p) {
      return new Options(host, p, threads, maxInFlight, maxConcurrentRuns, maxBodyBytes, maxBatch,
          queueTimeoutMillis, includeFullOutputs);
    }

    public Options withHost(String h) {
      return new Options(h, port, threads, maxInFlight, maxConcurrentRuns, maxBodyBytes, maxBatch,
          queueTimeoutMillis, includeFullOutputs);
    }

    public Options withLimits(int maxInFlight, int maxConcurrentRuns, long maxBodyBytes) {
      return new Options(host, port, threads, maxInFlight, maxConcurrentRuns, maxBodyBytes, maxBatch,
          queueTimeoutMillis, includeFullOutputs);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private final NFNetModel model;
  private final String name;
  private final Options opts;
  private final HttpServer server;
  private final ExecutorService executor;
  private final Semaphore admitted;
  private final Semaphore runs;
  private final AtomicInteger served = new AtomicInteger();

  /** A client error with its HTTP status. */
  static final class HttpError extends Exception {
    final int status;

    HttpError(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  private NFNetServer(NFNetModel model, String name, Options opts) throws IOException {
    this.model = model;
    this.name = name;
    this.opts = opts;
    this.admitted = new Semaphore(opts.maxInFlight());
    this.runs = new Semaphore(opts.maxConcurrentRuns(), true);
    this.server = HttpServer.create(new InetSocketAddress(opts.host(), opts.port()), 64);
    this.executor = new ThreadPoolExecutor(opts.threads(), opts.threads(), 30, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "nfnet-serve");
          t.setDaemon(true);
          return t;
        });
    server.setExecutor(executor);
    server.createContext("/v1/models/", this::handle);
    server.createContext("/", ex -> {
      try (ex) {
        drain(ex.getRequestBody(), opts.maxBodyBytes());
        send(ex, 404, error("not found: " + ex.getRequestURI().getPath()));
      }
    });
  }

  /** Starts serving {@code model} as {@code /v1/models/<name>}. Port 0 picks a free port. */
  public static NFNetServer start(NFNetModel model, String name, Options opts) throws IOException {
    NFNetServer s = new NFNetServer(model, name, opts);
    s.server.start();
    return s;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  public String baseUrl() {
    return "http://" + opts.host() + ":" + port();
  }

  public int served() {
    return served.get();
  }

  private void handle(HttpExchange ex) {
    try (ex) {
      if (!admitted.tryAcquire()) {
        drain(ex.getRequestBody(), opts.maxBodyBytes());
        send(ex, 429, error("too many requests in flight (limit " + opts.maxInFlight() + ")"));
        return;
      }
      try {
        route(ex);
      } finally {
        admitted.release();
      }
    } catch (IOException e) {
      // client went away; nothing to answer
    } catch (RuntimeException | Error e) {
      try {
        send(ex, 500, error("internal error: " + e));
      } catch (IOException | RuntimeException ignored) {
        // response already started or connection gone
      }
    }
  }

  private void route(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String rest = path.substring("/v1/models/".length());
    String method = ex.getRequestMethod();
    try {
      if (method.equals("GET")) {
        drain(ex.getRequestBody(), opts.maxBodyBytes());
        String n = rest.split("/", 2)[0];
        checkName(n);
        if (rest.endsWith("/metadata")) {
          ObjectNode m = JSON.createObjectNode();
          m.putObject("model_spec").put("name", name).put("version", "1");
          m.set("model_card", JSON.valueToTree(model.modelCard()));
          send(ex, 200, m);
        } else {
          send(ex, 200, status());
        }
        return;
      }
      if (!method.equals("POST")) {
        drain(ex.getRequestBody(), opts.maxBodyBytes());
        throw new HttpError(405, "method " + method + " not allowed");
      }
      int colon = rest.lastIndexOf(':');
      if (colon < 0 || !rest.substring(colon + 1).equals("predict")) {
        drain(ex.getRequestBody(), opts.maxBodyBytes());
        throw new HttpError(404, "unknown endpoint " + path + " (only :predict is supported)");
      }
      checkName(rest.substring(0, colon).split("/", 2)[0]);
      byte[] body = readBounded(ex);
      JsonNode req;
      try {
        req = JSON.readTree(body);
      } catch (JsonProcessingException e) {
        throw new HttpError(400, "malformed JSON: " + e.getOriginalMessage());
      }
      send(ex, 200, predict(req));
      served.incrementAndGet();
    } catch (HttpError e) {
      send(ex, e.status, error(e.getMessage()));
    }
  }

  private void checkName(String n) throws HttpError {
    if (!n.equals(name)) {
      throw new HttpError(404, "Servable not found for request: Latest(" + n + ")");
    }
  }

  ObjectNode status() {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode arr = root.putArray("model_version_status");
    ObjectNode v = arr.addObject();
    v.put("version", "1");
    v.put("state", "AVAILABLE");
    v.putObject("status").put("error_code", "OK").put("error_message", "");
    return root;
  }

  private ObjectNode predict(JsonNode req) throws HttpError {
    if (req == null || !req.isObject()) {
      throw new HttpError(400, "request must be a JSON object with \"instances\" (or \"inputs\")");
    }
    JsonNode inst = req.has("instances") ? req.get("instances") : req.get("inputs");
    if (inst == null) {
      throw new HttpError(400, "missing \"instances\"");
    }
    if (!inst.isArray()) {
      inst = JSON.createArrayNode().add(inst);
    }
    if (inst.isEmpty()) {
      throw new HttpError(400, "\"instances\" is empty");
    }
    if (inst.size() > opts.maxBatch()) {
      throw new HttpError(400, "batch of " + inst.size() + " exceeds the limit of " + opts.maxBatch());
    }
    String sig = req.path("signature_name").asText(NFNetExporter.SERVING_DEFAULT);
    if (!sig.equals(NFNetExporter.SERVING_DEFAULT) && !sig.equals(NFNetExporter.ENCODED)) {
      throw new HttpError(400, "unsupported signature_name '" + sig + "' (serving_default or encoded)");
    }
    boolean encoded = isB64(inst.get(0));
    NFNetModel.Outputs out;
    if (encoded) {
      List<byte[]> images = new ArrayList<>();
      for (int i = 0; i < inst.size(); i++) {
        JsonNode b = b64Node(inst.get(i));
        if (b == null) {
          throw new HttpError(400, "instance " + i + ": expected {\"b64\": ...} like instance 0");
        }
        try {
          images.add(Base64.getDecoder().decode(b.asText()));
        } catch (IllegalArgumentException e) {
          throw new HttpError(400, "instance " + i + ": invalid base64: " + e.getMessage());
        }
      }
      for (int i = 0; i < images.size(); i++) {
        try {
          model.checkEncoded(images.get(i), images.size() > 1 ? "instance " + i + ": " : "");
        } catch (IllegalArgumentException e) {
          throw new HttpError(400, e.getMessage());
        }
      }
      out = run(() -> model.predictEncoded(images));
    } else {
      try (TUint8 t = toUint8(inst)) {
        out = run(() -> model.predictUint8(t));
      }
    }
    ObjectNode resp = JSON.createObjectNode();
    ArrayNode preds = resp.putArray("predictions");
    for (int i = 0; i < out.size(); i++) {
      ObjectNode p = preds.addObject();
      p.set("top_k_labels", JSON.valueToTree(out.topKLabels()[i]));
      p.set("top_k_indices", JSON.valueToTree(out.topKIndices()[i]));
      p.set("top_k_probabilities", JSON.valueToTree(out.topKProbabilities()[i]));
      if (opts.includeFullOutputs()) {
        p.set("logits", JSON.valueToTree(out.logits()[i]));
        p.set("probabilities", JSON.valueToTree(out.probabilities()[i]));
      }
    }
    return resp;
  }

  private interface Run {
    NFNetModel.Outputs get();
  }

  private NFNetModel.Outputs run(Run r) throws HttpError {
    boolean got;
    try {
      got = runs.tryAcquire(opts.queueTimeoutMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HttpError(503, "interrupted while waiting for the model");
    }
    if (!got) {
      throw new HttpError(503, "model busy: waited " + opts.queueTimeoutMillis() + " ms");
    }
    try {
      return r.get();
    } catch (IllegalArgumentException e) {
      throw new HttpError(400, e.getMessage());
    } catch (TensorFlowException e) {
      // e.g. a corrupt image body past its valid header: an input problem, not a server fault
      throw new HttpError(400, "could not run the model on this input: " + firstLine(e.getMessage()));
    } finally {
      runs.release();
    }
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static boolean isB64(JsonNode n) {
    return b64Node(n) != null;
  }

  private static JsonNode b64Node(JsonNode n) {
    if (n == null || !n.isObject()) {
      return null;
    }
    if (n.has("b64") && n.get("b64").isTextual()) {
      return n.get("b64");
    }
    for (String key : new String[] {"image_bytes", "images", "bytes"}) {
      JsonNode v = n.get(key);
      if (v != null && v.isObject() && v.has("b64") && v.get("b64").isTextual()) {
        return v.get("b64");
      }
    }
    return null;
  }

  /** Nested uint8 arrays [H][W][3] per instance (or {"images": [...]}) -> [N,H,W,3]. */
  private TUint8 toUint8(JsonNode inst) throws HttpError {
    int n = inst.size();
    int h = -1;
    int w = -1;
    byte[] px = null;
    int o = 0;
    for (int i = 0; i < n; i++) {
      JsonNode img = inst.get(i);
      if (img.isObject() && img.has("images")) {
        img = img.get("images");
      }
      if (!img.isArray() || img.isEmpty() || !img.get(0).isArray() || img.get(0).isEmpty()) {
        throw new HttpError(400, "instance " + i + ": expected {\"b64\": ...} or a uint8 image"
            + " [height][width][3]");
      }
      int ih = img.size();
      int iw = img.get(0).size();
      if (i == 0) {
        h = ih;
        w = iw;
        try {
          model.decoder().checkSize("", h, w);
        } catch (IllegalArgumentException e) {
          throw new HttpError(400, e.getMessage());
        }
        px = new byte[Math.multiplyExact(Math.multiplyExact(n, h), w * 3)];
      } else if (ih != h || iw != w) {
        throw new HttpError(400, "instance " + i + " is " + iw + "x" + ih + " but instance 0 is "
            + w + "x" + h + ": all array instances must have the same shape");
      }
      for (int y = 0; y < h; y++) {
        JsonNode row = img.get(y);
        if (!row.isArray() || row.size() != w) {
          throw new HttpError(400, "instance " + i + " row " + y + ": expected " + w + " pixels");
        }
        for (int x = 0; x < w; x++) {
          JsonNode p = row.get(x);
          if (!p.isArray() || p.size() != 3) {
            throw new HttpError(400, "instance " + i + " pixel [" + y + "][" + x
                + "]: expected [r, g, b], got shape " + (p.isArray() ? "[" + p.size() + "]" : p.getNodeType()));
          }
          for (int c = 0; c < 3; c++) {
            JsonNode v = p.get(c);
            if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 0 || v.asInt() > 255) {
              throw new HttpError(400, "instance " + i + " pixel [" + y + "][" + x + "]: values must be"
                  + " integers 0..255, got " + v);
            }
            px[o++] = (byte) v.asInt();
          }
        }
      }
    }
    return TUint8.tensorOf(Shape.of(n, h, w, 3), DataBuffers.of(px, true, false));
  }

  private byte[] readBounded(HttpExchange ex) throws IOException, HttpError {
    long max = opts.maxBodyBytes();
    String cl = ex.getRequestHeaders().getFirst("Content-Length");
    if (cl != null) {
      long len;
      try {
        len = Long.parseLong(cl.trim());
      } catch (NumberFormatException e) {
        throw new HttpError(400, "bad Content-Length");
      }
      if (len > max) {
        drain(ex.getRequestBody(), 4 * max);
        throw new HttpError(400, "request body of " + len + " bytes exceeds the limit of " + max);
      }
    }
    InputStream in = ex.getRequestBody();
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    byte[] buf = new byte[65536];
    long total = 0;
    int r;
    while ((r = in.read(buf)) > 0) {
      total += r;
      if (total > max) {
        drain(in, 4 * max);
        throw new HttpError(400, "request body exceeds the limit of " + max + " bytes");
      }
      bos.write(buf, 0, r);
    }
    return bos.toByteArray();
  }

  /** Reads and discards up to {@code limit} bytes so that the client sees our response. */
  private static void drain(InputStream in, long limit) {
    try {
      byte[] buf = new byte[65536];
      long total = 0;
      int r;
      while (total < limit && (r = in.read(buf)) > 0) {
        total += r;
      }
    } catch (IOException ignored) {
      // nothing to do
    }
  }

  private static ObjectNode error(String msg) {
    return JSON.createObjectNode().put("error", msg);
  }

  private static void send(HttpExchange ex, int status, JsonNode body) throws IOException {
    byte[] b = JSON.writeValueAsBytes(body);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, b.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(b);
    }
  }

  /** Stops accepting, waits up to 5 s for running requests; does not close the model. */
  @Override
  public void close() {
    server.stop(1);
    executor.shutdown();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static String utf8(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
