package org.nfnet.savedmodel.serving;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.nfnet.savedmodel.NFNetModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorShapeProto;

/**
 * TF Serving's REST routes for one {@link ServedModel}:
 * <ul>
 *   <li>{@code GET /v1/models/NAME[/versions/N]}: model status (GetModelStatusResponse JSON);</li>
 *   <li>{@code GET /v1/models/NAME[/versions/N]/metadata}: model_spec + signature_def map (the
 *       export's real SignatureDefs: dtypes, shapes, tensor names, method names);</li>
 *   <li>{@code POST /v1/models/NAME[/versions/N]:predict}: any signature, row or columnar;</li>
 *   <li>{@code POST ...:classify} / {@code :regress}: answered as TF Serving answers a signature whose
 *       method is {@code tensorflow/serving/predict} (all NFNet signatures are): 400 naming the
 *       expected method.</li>
 * </ul>
 * Unknown models, versions and version labels are 404, as in TF Serving.
 */
final class RestApi implements BoundedHttpServer.Handler {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PREFIX = "/v1/models/";
  /** Bodies above this size count against the large-body permits (parsing them holds memory). */
  static final long LARGE_BODY = 1 << 20;

  private final ServedModel model;
  private final SignatureRunner runner;
  private final Semaphore largeBodies;
  private final long queueTimeoutMillis;

  RestApi(ServedModel model, SignatureRunner runner, int maxLargeBodies, long queueTimeoutMillis) {
    this.model = model;
    this.runner = runner;
    this.largeBodies = new Semaphore(maxLargeBodies, true);
    this.queueTimeoutMillis = queueTimeoutMillis;
  }

  /** A parsed URL: model name, version (null: latest), label, verb (after ':') or "metadata". */
  record Route(String name, Long version, String label, String verb, boolean metadata) {}

  static Route route(String rawPath) throws HttpStatusException {
    String path = rawPath;
    int q = path.indexOf('?');
    if (q >= 0) {
      path = path.substring(0, q);
    }
    if (!path.startsWith(PREFIX) || path.length() == PREFIX.length()) {
      throw new HttpStatusException(404, "Malformed request: " + rawPath + " (expected /v1/models/NAME...)");
    }
    String rest = path.substring(PREFIX.length());
    String verb = null;
    int colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      verb = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
    }
    String[] parts = rest.split("/", -1);
    String name = parts[0];
    Long version = null;
    String label = null;
    int i = 1;
    if (parts.length >= 3 && (parts[1].equals("versions") || parts[1].equals("labels"))) {
      if (parts[1].equals("versions")) {
        try {
          version = Long.parseLong(parts[2]);
        } catch (NumberFormatException e) {
          throw new HttpStatusException(400, "version must be a number, got '" + parts[2] + "'");
        }
      } else {
        label = parts[2];
      }
      i = 3;
    }
    boolean metadata = false;
    if (i < parts.length && parts[i].equals("metadata") && i == parts.length - 1 && verb == null) {
      metadata = true;
      i++;
    }
    if (i != parts.length || name.isEmpty()) {
      throw new HttpStatusException(404, "Malformed request: " + rawPath);
    }
    return new Route(name, version, label, verb, metadata);
  }

  @Override
  public BoundedHttpServer.Response handle(BoundedHttpServer.Request req) throws IOException, HttpStatusException {
    Route r = route(req.path());
    if (!r.name().equals(model.name())) {
      throw new HttpStatusException(404, "Servable not found for request: "
          + (r.version() == null ? "Latest(" + r.name() + ")" : "Specific(" + r.name() + ", " + r.version() + ")"));
    }
    if (r.label() != null) {
      throw new HttpStatusException(404, "Unrecognized servable version label: " + r.label()
          + " (model '" + model.name() + "' has no version labels)");
    }
    boolean get = req.method().equals("GET");
    if (r.verb() == null) {
      if (!get) {
        throw new HttpStatusException(405, req.method() + " not allowed on " + req.path() + " (use GET)");
      }
      return ok(r.metadata() ? metadata(r.version()) : status(r.version()));
    }
    if (!req.method().equals("POST")) {
      throw new HttpStatusException(405, req.method() + " not allowed on " + req.path() + " (use POST)");
    }
    long version = version(r.version());
    NFNetModel m = model.versions().get(version);
    switch (r.verb()) {
      case "predict" -> {
        return withBodyPermit(req, () -> {
          TfServingJson.PredictRequest p = TfServingJson.parsePredict(req.body());
          return BoundedHttpServer.Response.json(200, TfServingJson.writePredict(p.rowFormat(), runner.predict(m, p)));
        });
      }
      case "classify", "regress" -> {
        String sig = TfServingJson.signatureName(req.body());
        SignatureDef sd = SignatureRunner.signature(m, sig);
        String method = "tensorflow/serving/" + r.verb();
        if (!sd.getMethodName().equals(method)) {
          throw new HttpStatusException(400, "Expected " + (r.verb().equals("classify") ? "classification"
              : "regression") + " signature method_name to be " + method + ". Was: " + sd.getMethodName()
              + " (use :predict; every signature of this model is a predict signature)");
        }
        throw new HttpStatusException(501, r.verb() + " signatures are not supported by this server");
      }
      default -> throw new HttpStatusException(404, "unknown verb ':" + r.verb()
          + "' (predict, classify, regress)");
    }
  }

  private interface Body {
    BoundedHttpServer.Response get() throws IOException, HttpStatusException;
  }

  /** Large bodies are parsed a few at a time so that memory stays bounded under concurrency. */
  private BoundedHttpServer.Response withBodyPermit(BoundedHttpServer.Request req, Body body)
      throws IOException, HttpStatusException {
    String cl = req.headers().get("content-length");
    boolean large = cl == null || Long.parseLong(cl) > LARGE_BODY;
    if (!large) {
      return body.get();
    }
    boolean got;
    try {
      got = largeBodies.tryAcquire(queueTimeoutMillis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HttpStatusException(503, "interrupted");
    }
    if (!got) {
      throw new HttpStatusException(503, "too many large requests being read; retry later");
    }
    try {
      return body.get();
    } finally {
      largeBodies.release();
    }
  }

  private long version(Long requested) throws HttpStatusException {
    if (requested == null) {
      return model.latestVersion();
    }
    if (!model.versions().containsKey(requested)) {
      throw new HttpStatusException(404, "Servable not found for request: Specific(" + model.name() + ", "
          + requested + ")");
    }
    return requested;
  }

  private static BoundedHttpServer.Response ok(ObjectNode n) throws IOException {
    return BoundedHttpServer.Response.json(200, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n));
  }

  /**
   * GetModelStatusResponse, newest first: loaded versions are AVAILABLE; versions that failed to
   * load are END with error code UNKNOWN and the reason.
   */
  ObjectNode status(Long requested) throws HttpStatusException {
    java.util.TreeSet<Long> all = new java.util.TreeSet<>(model.versions().keySet());
    all.addAll(model.failedVersions().keySet());
    if (requested != null && !all.contains(requested)) {
      throw new HttpStatusException(404, "Could not find version " + requested + " of model " + model.name());
    }
    ObjectNode root = JSON.createObjectNode();
    ArrayNode arr = root.putArray("model_version_status");
    for (long v : all.descendingSet()) {
      if (requested == null || requested == v) {
        ObjectNode s = arr.addObject();
        s.put("version", Long.toString(v));
        String error = model.failedVersions().get(v);
        s.put("state", error == null ? "AVAILABLE" : "END");
        s.putObject("status").put("error_code", error == null ? "OK" : "UNKNOWN")
            .put("error_message", error == null ? "" : error);
      }
    }
    return root;
  }

  /** GetModelMetadataResponse with the signature_def metadata, in proto3 JSON form. */
  ObjectNode metadata(Long requested) throws HttpStatusException {
    long v = version(requested);
    NFNetModel m = model.versions().get(v);
    ObjectNode root = JSON.createObjectNode();
    root.putObject("model_spec").put("name", model.name()).put("signature_name", "")
        .put("version", Long.toString(v));
    ObjectNode defs = root.putObject("metadata").putObject("signature_def").putObject("signature_def");
    for (Map.Entry<String, SignatureDef> e : new TreeMap<>(m.metaGraphDef().getSignatureDefMap()).entrySet()) {
      ObjectNode sig = defs.putObject(e.getKey());
      tensors(sig.putObject("inputs"), e.getValue().getInputsMap());
      tensors(sig.putObject("outputs"), e.getValue().getOutputsMap());
      sig.put("method_name", e.getValue().getMethodName());
    }
    return root;
  }

  private static void tensors(ObjectNode into, Map<String, TensorInfo> infos) {
    for (Map.Entry<String, TensorInfo> e : new TreeMap<>(infos).entrySet()) {
      TensorInfo t = e.getValue();
      ObjectNode n = into.putObject(e.getKey());
      n.put("dtype", t.getDtype().name());
      TensorShapeProto s = t.getTensorShape();
      ObjectNode shape = n.putObject("tensor_shape");
      ArrayNode dims = shape.putArray("dim");
      for (TensorShapeProto.Dim d : s.getDimList()) {
        // proto3 JSON writes int64 as a string
        dims.addObject().put("size", Long.toString(d.getSize())).put("name", d.getName());
      }
      shape.put("unknown_rank", s.getUnknownRank());
      n.put("name", t.getName());
    }
  }
}
