package org.nfnet.savedmodel;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.nfnet.zoo.NFNetStructure;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.SessionFunction;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * A loaded NFNet SavedModel (as written by {@link NFNetExporter}) for in-process inference.
 *
 * <p>Thread-safe: any number of threads may call the inference methods concurrently on the one
 * TF session ({@code TF_SessionRun} is thread-safe); {@link #close()} waits for running calls and
 * then frees the native graph and session. Inputs are validated on the host before anything runs:
 * images smaller than {@link #minImageSide()} or larger than {@link #maxPixels()}, files over the
 * byte cap and bytes that are not JPEG/PNG/GIF/BMP fail with a {@link BadImageException} naming
 * the image and the problem (see {@link ImageDecoder}).
 */
public final class NFNetModel implements AutoCloseable {
  /**
   * Smallest accepted image side. The image signatures resize every image to the network's input
   * size, so small images (28 px Fashion-MNIST) are fine; below this they carry no content.
   */
  public static final int DEFAULT_MIN_SIDE = ImageDecoder.DEFAULT_MIN_SIDE;
  /** Largest accepted decoded image, in pixels (guards against decompression bombs). */
  public static final long DEFAULT_MAX_PIXELS = ImageDecoder.DEFAULT_MAX_PIXELS;

  /** One top-k entry. */
  public record Prediction(String label, int index, float probability) {}

  /** All outputs of {@code serving_default}/{@code encoded} for a batch. */
  public record Outputs(float[][] logits, float[][] probabilities, int[][] topKIndices,
      float[][] topKProbabilities, String[][] topKLabels) {
    public List<Prediction> top(int i) {
      List<Prediction> out = new ArrayList<>();
      for (int j = 0; j < topKIndices[i].length; j++) {
        out.add(new Prediction(topKLabels[i][j], topKIndices[i][j], topKProbabilities[i][j]));
      }
      return out;
    }

    public int size() {
      return logits.length;
    }
  }

  /**
   * How to load an export.
   *
   * @param config session config (thread pools, graph optimizer options); null: TF's defaults
   * @param imageLimits bounds applied to input images
   * @param freeze weights as graph constants after loading ({@link LoadTimeFreezing}): a frozen
   *     export's speed (F0 batch 1, no weight cache: +1–9% float32) for ~7x the resident memory
   *     (F0 float32, glibc: 4.8 against 0.7 GB) and a slower first call, so off by default;
   *     {@code TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1} gives inference-only processes that speed
   *     (README). Skipped, with {@link #weights()} saying why, where the graph does not allow it.
   */
  public record Options(org.tensorflow.proto.ConfigProto config, ImageDecoder.Limits imageLimits,
      boolean freeze) {
    public Options {
      java.util.Objects.requireNonNull(imageLimits, "imageLimits");
    }
    /** TF's default session config, default image limits, weights kept as variables. */
    public static Options defaults() {
      return new Options(null, ImageDecoder.Limits.defaults(), false);
    }

    public Options withConfig(org.tensorflow.proto.ConfigProto c) {
      return new Options(c, imageLimits, freeze);
    }

    public Options withImageLimits(ImageDecoder.Limits l) {
      return new Options(config, l, freeze);
    }

    public Options withFreeze(boolean f) {
      return new Options(config, imageLimits, f);
    }
  }

  private final Path dir;
  private final ModelRuntime runtime;
  private final Map<String, Object> card;
  private final int testImsize;
  private final int numClasses;
  private final List<String> labels;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private volatile boolean closed;
  private final ImageDecoder decoder;

  private NFNetModel(Path dir, ModelRuntime runtime, Map<String, Object> card,
      ImageDecoder.Limits limits) throws IOException {
    this.dir = dir;
    this.runtime = runtime;
    this.card = card;
    this.testImsize = ((Number) card.get("test_imsize")).intValue();
    this.numClasses = ((Number) card.get("num_classes")).intValue();
    Path labelFile = dir.resolve(NFNetExporter.LABELS_FILE);
    this.labels = Files.exists(labelFile) ? Labels.load(labelFile) : Labels.generic(numClasses);
    this.decoder = new ImageDecoder(limits);
  }

  /** Loads an export directory (tag {@code serve}) with TensorFlow's default session config. */
  public static NFNetModel load(Path dir) throws IOException {
    return load(dir, Options.defaults());
  }

  /** DeepMind's pretrained NFNet-F0..F6, downloaded and converted on first use ({@link Pretrained}). */
  public static NFNetModel pretrained(String name) throws IOException {
    return pretrained(name, Pretrained.Options.defaults());
  }

  /** {@link #pretrained(String)} with another cache directory, mirror, verification or listener. */
  public static NFNetModel pretrained(String name, Pretrained.Options options) throws IOException {
    return load(Pretrained.pull(name, options).model());
  }

  /** {@link #load(Path, Options)} with a session config (null: TF's defaults). */
  public static NFNetModel load(Path dir, org.tensorflow.proto.ConfigProto config) throws IOException {
    return load(dir, config, ImageDecoder.Limits.defaults());
  }

  /** {@link #load(Path, Options)} with a session config and image bounds. */
  public static NFNetModel load(Path dir, org.tensorflow.proto.ConfigProto config,
      ImageDecoder.Limits imageLimits) throws IOException {
    return load(dir, new Options(config, imageLimits, false));
  }

  /**
   * Loads an export directory (tag {@code serve}). A missing, truncated or corrupt file fails with
   * an IOException naming the file. A variables export is frozen at load when
   * {@code options.freeze()} is true; {@link #weights()} tells what happened.
   */
  public static NFNetModel load(Path dir, Options options) throws IOException {
    Path d = dir.toAbsolutePath().normalize();
    SavedModelFiles.checkExists(d);
    Map<String, Object> card = ModelCard.read(d);
    ModelRuntime runtime = ModelRuntime.open(d, card, options.config(), options.freeze());
    try {
      return new NFNetModel(d, runtime, card, options.imageLimits());
    } catch (IOException | RuntimeException e) {
      runtime.close();
      throw e;
    }
  }

  public Path dir() {
    return dir;
  }

  public Map<String, Object> modelCard() {
    return card;
  }

  public String variant() {
    return String.valueOf(card.get("variant"));
  }

  public int numClasses() {
    return numClasses;
  }

  public int testImsize() {
    return testImsize;
  }

  public List<String> labels() {
    return labels;
  }

  public int minImageSide() {
    return decoder.limits().minSide();
  }

  public long maxPixels() {
    return decoder.limits().maxPixels();
  }

  /** The decoder (and its limits) that checks every image given to this model. */
  public ImageDecoder decoder() {
    return decoder;
  }

  /**
   * Where the weights live: {@code "constants (frozen at load)"}, {@code "constants (frozen
   * export)"}, {@code "variables (freezing at load not requested)"} or
   * {@code "variables (not frozen: <reason>)"}.
   */
  public String weights() {
    return runtime.weights();
  }

  /** Whether the weights were turned into graph constants when this model was loaded. */
  public boolean frozenAtLoad() {
    return runtime.frozenAtLoad();
  }

  /** The graph the model runs (the frozen copy when frozen at load). */
  public Graph graph() {
    return runtime.graph();
  }

  /** The session the model runs; owned by this model. */
  public Session session() {
    return runtime.session();
  }

  /** The function of a signature on {@link #session()}. */
  public SessionFunction function(String signature) {
    SessionFunction f = runtime.functions().get(signature);
    if (f == null) {
      throw new IllegalArgumentException("model " + dir + " has no signature '" + signature
          + "'; it has " + runtime.functions().keySet());
    }
    return f;
  }

  // ---------------------------------------------------------------- top-k

  /** Top-k of an image file; refused files (see {@link ImageDecoder#read}) throw {@link BadImageException}. */
  public List<Prediction> predict(Path image) throws IOException {
    return predictEncoded(List.of(decoder.read(image))).top(0);
  }

  public List<Prediction> predict(byte[] encoded) {
    return predictEncoded(List.of(encoded)).top(0);
  }

  public List<Prediction> predict(BufferedImage image) {
    return predictImages(List.of(image)).top(0);
  }

  /** Every output for a batch of encoded images (decoded in graph, any sizes and formats). */
  public Outputs predictEncoded(List<byte[]> encoded) {
    if (encoded.isEmpty()) {
      throw new IllegalArgumentException("empty batch");
    }
    for (int i = 0; i < encoded.size(); i++) {
      checkEncoded(encoded.get(i), encoded.size() > 1 ? "image " + i + ": " : "");
    }
    byte[][] arr = encoded.toArray(new byte[0][]);
    try (TString t = TString.tensorOfBytes(NdArrays.vectorOfObjects(arr))) {
      return heads(NFNetExporter.ENCODED, "image_bytes", t);
    }
  }

  /** Every output for a batch of decoded images; all must have the same size. */
  public Outputs predictImages(List<BufferedImage> images) {
    try (TUint8 t = toTensor(images)) {
      return predictUint8(t);
    }
  }

  /** Every output for a uint8 [N,H,W,3] tensor (validated first). */
  public Outputs predictUint8(TUint8 images) {
    checkUint8Shape(images.shape());
    return heads(NFNetExporter.SERVING_DEFAULT, "images", images);
  }

  // ---------------------------------------------------------------- logits / features

  public float[][] logits(BufferedImage... images) {
    return predictImages(List.of(images)).logits();
  }

  public float[][] logits(byte[]... encoded) {
    return predictEncoded(List.of(encoded)).logits();
  }

  public float[][] features(BufferedImage... images) {
    try (TUint8 t = toTensor(List.of(images))) {
      return features(t);
    }
  }

  /** Embeddings of encoded images, decoded exactly as the in-graph decoder does. */
  public float[][] features(byte[]... encoded) {
    float[][] out = new float[encoded.length][];
    for (int i = 0; i < encoded.length; i++) {
      try (TUint8 img = decoder.decode(encoded[i], encoded.length > 1 ? "image " + i : "");
          TUint8 batch = TUint8.tensorOf(Shape.of(1, img.shape().get(0), img.shape().get(1), 3))) {
        img.copyTo(batch.get(0));
        out[i] = features(batch)[0];
      }
    }
    return out;
  }

  public float[][] features(TUint8 images) {
    checkUint8Shape(images.shape());
    try (Result r = call(NFNetExporter.FEATURES, Map.of("images", images))) {
      return matrix((TFloat32) r.get("features").orElseThrow());
    }
  }

  /** Logits of already-normalised NHWC float input (n*h*w*3 values); h, w >= 32. */
  public float[][] logitsFromNormalized(FloatBuffer nhwc, int n, int h, int w) {
    if (n < 1) {
      throw new IllegalArgumentException("batch size must be >= 1, got " + n);
    }
    if (h < NFNetStructure.TOTAL_STRIDE || w < NFNetStructure.TOTAL_STRIDE) {
      throw new IllegalArgumentException("normalized input " + h + "x" + w + " is too small for "
          + variant() + ": height and width must be >= " + NFNetStructure.TOTAL_STRIDE);
    }
    long need = (long) n * h * w * 3;
    if (nhwc.remaining() != need) {
      throw new IllegalArgumentException("normalized input has " + nhwc.remaining()
          + " values, expected " + n + "x" + h + "x" + w + "x3 = " + need);
    }
    try (TFloat32 t = TFloat32.tensorOf(Shape.of(n, h, w, 3), DataBuffers.of(nhwc.duplicate()));
        Result r = call(NFNetExporter.LOGITS_FROM_NORMALIZED, Map.of("normalized", t))) {
      return matrix((TFloat32) r.get("logits").orElseThrow());
    }
  }

  // ---------------------------------------------------------------- validation and conversion

  /**
   * Reads only the image header: returns {height, width}; throws {@link BadImageException} on
   * anything unusable. {@code what} prefixes the message (e.g. "image 2: ").
   */
  public int[] checkEncoded(byte[] bytes, String what) {
    String src = what.endsWith(": ") ? what.substring(0, what.length() - 2) : what;
    ImageDecoder.Header h = decoder.check(bytes, src);
    return new int[] {h.height(), h.width()};
  }

  private void checkUint8Shape(Shape s) {
    if (s.numDimensions() != 4 || s.get(3) != 3) {
      throw new IllegalArgumentException("images must be uint8 [N,H,W,3], got shape " + s);
    }
    if (s.get(0) < 1) {
      throw new IllegalArgumentException("empty batch");
    }
    decoder.checkSize("", s.get(1), s.get(2));
  }

  /** Decodes with TF's DecodeImage (channels=3), as the {@code encoded} signature does. */
  public TUint8 decode(byte[] encoded) {
    return decoder.decode(encoded, "");
  }

  /** RGB uint8 [N,H,W,3] from same-sized images (alpha dropped, grey replicated). */
  public static TUint8 toTensor(List<BufferedImage> images) {
    return ImageDecoder.toTensor(images);
  }

  // ---------------------------------------------------------------- running

  private Result call(String signature, Map<String, Tensor> args) {
    lock.readLock().lock();
    try {
      if (closed) {
        throw new IllegalStateException("model " + dir + " is closed");
      }
      return function(signature).call(args);
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * Runs any signature of the export ({@link #metaGraphDef()} lists them) on named input tensors;
   * the caller closes the result. Used by the REST server, which reaches every signature.
   */
  public Result run(String signature, Map<String, Tensor> inputs) {
    return call(signature, inputs);
  }

  /** The export's meta graph (tag {@code serve}): signature defs with dtypes, shapes and names. */
  public org.tensorflow.proto.MetaGraphDef metaGraphDef() {
    return runtime.metaGraphDef();
  }

  private Outputs heads(String signature, String input, Tensor t) {
    try (Result r = call(signature, Map.of(input, t))) {
      float[][] logits = matrix((TFloat32) r.get("logits").orElseThrow());
      float[][] probs = matrix((TFloat32) r.get("probabilities").orElseThrow());
      TInt32 idx = (TInt32) r.get("top_k_indices").orElseThrow();
      TFloat32 tp = (TFloat32) r.get("top_k_probabilities").orElseThrow();
      TString tl = (TString) r.get("top_k_labels").orElseThrow();
      int n = (int) idx.shape().get(0);
      int k = (int) idx.shape().get(1);
      int[][] ii = new int[n][k];
      float[][] pp = new float[n][k];
      String[][] ll = new String[n][k];
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
          ii[i][j] = idx.getInt(i, j);
          pp[i][j] = tp.getFloat(i, j);
          ll[i][j] = tl.getObject(i, j);
        }
      }
      return new Outputs(logits, probs, ii, pp, ll);
    }
  }

  static float[][] matrix(TFloat32 t) {
    int n = (int) t.shape().get(0);
    int c = (int) t.shape().get(1);
    float[][] out = new float[n][c];
    for (int i = 0; i < n; i++) {
      t.get(i).copyTo(DataBuffers.of(out[i], false, false));
    }
    return out;
  }

  public Map<String, Object> status() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("variant", variant());
    m.put("num_classes", numClasses);
    m.put("test_imsize", testImsize);
    m.put("weights", weights());
    return m;
  }

  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      runtime.close();
      decoder.close();
    } finally {
      lock.writeLock().unlock();
    }
  }
}
