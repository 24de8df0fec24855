package org.nfnet.savedmodel.serving;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.nfnet.savedmodel.BadImageException;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.zoo.NFNetStructure;
import org.tensorflow.Result;
import org.tensorflow.Tensor;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * Runs a parsed predict request on one signature of a model: maps the request's inputs to the
 * signature's (by name, or the only one), checks dtypes and shapes against the SignatureDef and
 * images against the model's {@link org.nfnet.savedmodel.ImageDecoder} limits, runs at most
 * {@code maxConcurrentRuns} sessions at once (503 after {@code queueTimeoutMillis}) and returns
 * every output of the signature.
 */
final class SignatureRunner {
  static final String DEFAULT_SIGNATURE = "serving_default";
  static final String ENCODED = "encoded";
  static final String ENCODED_INPUT = "image_bytes";

  private final Semaphore runs;
  private final long queueTimeoutMillis;
  private final int maxBatch;

  SignatureRunner(int maxConcurrentRuns, long queueTimeoutMillis, int maxBatch) {
    this.runs = new Semaphore(maxConcurrentRuns, true);
    this.queueTimeoutMillis = queueTimeoutMillis;
    this.maxBatch = maxBatch;
  }

  static SignatureDef signature(NFNetModel model, String name) throws HttpStatusException {
    String n = name == null || name.isEmpty() ? DEFAULT_SIGNATURE : name;
    SignatureDef sd = model.metaGraphDef().getSignatureDefMap().get(n);
    if (sd == null) {
      throw new HttpStatusException(400, "Serving signature name: \"" + n + "\" not found in signature def"
          + " (this model has " + String.join(", ", new TreeMap<>(model.metaGraphDef().getSignatureDefMap())
              .keySet()) + ")");
    }
    return sd;
  }

  /**
   * {@code serving_default}, except that a request without {@code signature_name} whose only input
   * is byte strings (or is named {@code image_bytes}) goes to the {@code encoded} signature: a
   * convenience beyond TF Serving (which would answer 400), so that {@code {"instances":
   * [{"b64": ...}]}} works without naming the signature.
   */
  static String defaultFor(NFNetModel model, Map<String, JsonTensor> inputs) {
    Map<String, SignatureDef> defs = model.metaGraphDef().getSignatureDefMap();
    if (inputs.size() == 1 && defs.containsKey(ENCODED) && defs.containsKey(DEFAULT_SIGNATURE)) {
      Map.Entry<String, JsonTensor> only = inputs.entrySet().iterator().next();
      boolean bytes = only.getKey().equals(ENCODED_INPUT)
          || (only.getKey().equals(TfServingJson.UNNAMED) && only.getValue().isStrings());
      boolean defaultTakesStrings = defs.get(DEFAULT_SIGNATURE).getInputsMap().values().stream()
          .anyMatch(t -> t.getDtype() == DataType.DT_STRING);
      if (bytes && !defaultTakesStrings) {
        return ENCODED;
      }
    }
    return DEFAULT_SIGNATURE;
  }

  SortedMap<String, TfServingJson.Output> predict(NFNetModel model, TfServingJson.PredictRequest req)
      throws HttpStatusException {
    String sigName = req.signatureName() == null || req.signatureName().isEmpty()
        ? defaultFor(model, req.inputs()) : req.signatureName();
    SignatureDef sd = signature(model, sigName);
    Map<String, TensorInfo> want = sd.getInputsMap();
    Map<String, JsonTensor> given = req.inputs();
    if (given.containsKey(TfServingJson.UNNAMED)) {
      if (want.size() != 1) {
        throw new HttpStatusException(400, "signature '" + sigName + "' has " + want.size() + " inputs ("
            + String.join(", ", want.keySet()) + "): name each input");
      }
      given = Map.of(want.keySet().iterator().next(), given.get(TfServingJson.UNNAMED));
    }
    for (String k : given.keySet()) {
      if (!want.containsKey(k)) {
        throw new HttpStatusException(400, "signature '" + sigName + "' has no input '" + k + "' (inputs: "
            + String.join(", ", want.keySet()) + ")");
      }
    }
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, TensorInfo> e : want.entrySet()) {
        JsonTensor t = given.get(e.getKey());
        if (t == null) {
          throw new HttpStatusException(400, "missing input '" + e.getKey() + "' of signature '" + sigName + "'");
        }
        feeds.put(e.getKey(), toTensor(model, e.getKey(), e.getValue(), t));
      }
      return run(model, sigName, sd, feeds);
    } finally {
      feeds.values().forEach(Tensor::close);
    }
  }

  private SortedMap<String, TfServingJson.Output> run(NFNetModel model, String sig, SignatureDef sd,
      Map<String, Tensor> feeds) throws HttpStatusException {
    boolean got;
    try {
      got = runs.tryAcquire(queueTimeoutMillis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HttpStatusException(503, "interrupted while waiting for the model");
    }
    if (!got) {
      throw new HttpStatusException(503, "model busy: no free session within " + queueTimeoutMillis + " ms");
    }
    try (Result r = model.run(sig, feeds)) {
      SortedMap<String, TfServingJson.Output> out = new TreeMap<>();
      for (String name : sd.getOutputsMap().keySet()) {
        out.put(name, output(r.get(name).orElseThrow()));
      }
      return out;
    } catch (IllegalArgumentException e) {
      throw new HttpStatusException(400, e.getMessage());
    } catch (TensorFlowException e) {
      // e.g. an image whose header is valid but whose body is corrupt: the input's fault
      throw new HttpStatusException(400, "could not run signature '" + sig + "' on this input: "
          + firstLine(e.getMessage()));
    } finally {
      runs.release();
    }
  }

  private Tensor toTensor(NFNetModel model, String name, TensorInfo info, JsonTensor t)
      throws HttpStatusException {
    long[] shape = t.shape();
    checkShape(name, info.getTensorShape(), shape);
    if (shape.length > 0 && shape[0] > maxBatch) {
      throw new HttpStatusException(400, "input '" + name + "': batch of " + shape[0]
          + " exceeds the limit of " + maxBatch);
    }
    if (t.size() == 0) {
      throw new HttpStatusException(400, "input '" + name + "' is empty");
    }
    DataType dt = info.getDtype();
    if (dt == DataType.DT_STRING) {
      if (!t.isStrings()) {
        throw new HttpStatusException(400, "input '" + name + "' is DT_STRING: give strings or {\"b64\": ...}");
      }
      List<byte[]> s = t.strings();
      List<String> problems = new ArrayList<>();
      for (int i = 0; i < s.size(); i++) {
        try {
          model.decoder().check(s.get(i), name + "[" + i + "]");
        } catch (BadImageException e) {
          problems.add(e.getMessage());
        }
      }
      if (!problems.isEmpty()) {
        throw new HttpStatusException(400, String.join("; ", problems));
      }
      return TString.tensorOfBytes(NdArrays.wrap(Shape.of(shape), DataBuffers.ofObjects(s.toArray(new byte[0][]))));
    }
    if (t.isStrings()) {
      throw new HttpStatusException(400, "input '" + name + "' is " + dt + ": give numbers, not strings");
    }
    float[] v = t.numberBuffer();
    int n = (int) t.size();
    if (shape.length == 4 && shape[3] == 3) {
      try {
        if (dt == DataType.DT_UINT8) {
          model.decoder().checkSize(name, shape[1], shape[2]);
        } else if (shape[1] < NFNetStructure.TOTAL_STRIDE || shape[2] < NFNetStructure.TOTAL_STRIDE) {
          throw new HttpStatusException(400, "input '" + name + "': " + shape[2] + "x" + shape[1]
              + " is too small, height and width must be >= " + NFNetStructure.TOTAL_STRIDE);
        }
      } catch (BadImageException e) {
        throw new HttpStatusException(400, e.getMessage());
      }
    }
    switch (dt) {
      case DT_FLOAT -> {
        return TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(v, true, false).narrow(n));
      }
      case DT_UINT8 -> {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
          float x = v[i];
          if (!t.allIntegral() || x < 0 || x > 255) {
            throw new HttpStatusException(400, "input '" + name + "' is DT_UINT8: values must be integers"
                + " 0..255" + (t.allIntegral() ? ", got " + (long) x : ", got a decimal number"));
          }
          b[i] = (byte) (int) x;
        }
        return TUint8.tensorOf(Shape.of(shape), DataBuffers.of(b, true, false));
      }
      case DT_INT32 -> {
        int[] b = new int[n];
        for (int i = 0; i < n; i++) {
          if (!t.allIntegral() || Math.abs(v[i]) > (1 << 24)) {
            throw new HttpStatusException(400, "input '" + name + "' is DT_INT32: values must be integers");
          }
          b[i] = (int) v[i];
        }
        return TInt32.tensorOf(Shape.of(shape), DataBuffers.of(b, true, false));
      }
      default -> throw new HttpStatusException(400, "input '" + name + "' has dtype " + dt
          + ", which this server does not accept over JSON");
    }
  }

  private static void checkShape(String name, TensorShapeProto want, long[] got) throws HttpStatusException {
    if (want.getUnknownRank()) {
      return;
    }
    boolean ok = want.getDimCount() == got.length;
    for (int i = 0; ok && i < got.length; i++) {
      long d = want.getDim(i).getSize();
      ok = d < 0 || d == got[i];
    }
    if (!ok) {
      StringBuilder w = new StringBuilder("[");
      for (int i = 0; i < want.getDimCount(); i++) {
        w.append(i > 0 ? "," : "").append(want.getDim(i).getSize() < 0 ? "?" : want.getDim(i).getSize());
      }
      throw new HttpStatusException(400, "input '" + name + "' has shape " + java.util.Arrays.toString(got)
          .replace(" ", "") + " but the signature expects " + w + "]");
    }
  }

  private static TfServingJson.Output output(Tensor t) {
    long[] shape = t.shape().asArray();
    int n = (int) t.shape().size();
    if (t instanceof TFloat32 f) {
      float[] v = new float[n];
      f.copyTo(DataBuffers.of(v, false, false));
      return TfServingJson.Output.ofFloats(shape, v);
    }
    if (t instanceof TInt32 i) {
      int[] v = new int[n];
      i.copyTo(DataBuffers.of(v, false, false));
      return TfServingJson.Output.ofInts(shape, v);
    }
    if (t instanceof TInt64 l) {
      long[] v = new long[n];
      l.copyTo(DataBuffers.of(v, false, false));
      return TfServingJson.Output.ofLongs(shape, v);
    }
    if (t instanceof TUint8 u) {
      byte[] b = new byte[n];
      u.copyTo(DataBuffers.of(b, false, false));
      int[] v = new int[n];
      for (int k = 0; k < n; k++) {
        v[k] = b[k] & 0xff;
      }
      return TfServingJson.Output.ofInts(shape, v);
    }
    if (t instanceof TString s) {
      byte[][] v = new byte[n][];
      int[] k = {0};
      s.asBytes().scalars().forEach(x -> v[k[0]++] = x.getObject());
      return TfServingJson.Output.ofStrings(shape, v);
    }
    throw new IllegalStateException("unsupported output dtype " + t.dataType());
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
