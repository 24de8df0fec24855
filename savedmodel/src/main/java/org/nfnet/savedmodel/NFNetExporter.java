package org.nfnet.savedmodel;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.Precision;
import org.nfnet.zoo.graph.NFNetOutputs;
import org.nfnet.zoo.graph.ParameterInit;
import org.nfnet.zoo.graph.ParameterSource;
import org.nfnet.zoo.preprocess.EvalPreprocessing;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.RewriterConfig;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * Exports an NFNet as a TF Serving compatible SavedModel (tag {@code serve}, method
 * {@code tensorflow/serving/predict}, dynamic batch and spatial dimensions).
 *
 * <p>The export graph is built for inference only: VariableV2 parameters (no optimizer slots, no
 * training ops), loaded from host values one parameter at a time before the network is built on
 * them ({@link PreloadedVariables}), so an export holds the weights once plus one parameter in
 * flight. Signatures:
 * <ul>
 *   <li>{@code serving_default}: {@code images} uint8 [N,H,W,3] -> eval preprocessing ->
 *       {@code logits} [N,C], {@code probabilities} [N,C], {@code top_k_indices} int32 [N,k],
 *       {@code top_k_probabilities} [N,k], {@code top_k_labels} string [N,k];</li>
 *   <li>{@code encoded}: {@code image_bytes} string [N] (JPEG/PNG/GIF/BMP, decoded in graph) ->
 *       the same outputs;</li>
 *   <li>{@code logits_from_normalized}: {@code normalized} float [N,H,W,3] -> {@code logits},
 *       {@code pooled};</li>
 *   <li>{@code features}: {@code images} uint8 [N,H,W,3] -> {@code features} [N, final channels].</li>
 * </ul>
 *
 * <p>Graph layout: {@code normalized} is a PlaceholderWithDefault whose default is the
 * preprocessing of {@code images}, so one network copy serves {@code serving_default},
 * {@code features} and {@code logits_from_normalized} (feeding {@code normalized} skips the
 * preprocessing). The {@code encoded} signature has a second network copy under the name scope
 * {@code encoded/} reading the same variables. With folding on (default), every WSConv2D stores
 * its standardized, gain-scaled kernel as variable {@code .../w_hat} and runs a plain conv.
 *
 * <p>Writes are atomic: the model is exported into a hidden temp directory beside the target and
 * renamed into place; an existing target is refused unless {@link #force(boolean)}, which only
 * replaces an earlier export or an empty directory (see {@link ExportDirectory}).
 */
public final class NFNetExporter {
  public static final String TAG = SavedModelBundle.DEFAULT_TAG;
  public static final String METHOD = "tensorflow/serving/predict";
  public static final String SERVING_DEFAULT = "serving_default";
  public static final String ENCODED = "encoded";
  public static final String LOGITS_FROM_NORMALIZED = "logits_from_normalized";
  public static final String FEATURES = "features";
  /** Labels file written beside the model (TF Serving ignores {@code assets.extra}). */
  public static final String LABELS_FILE = "assets.extra/labels.txt";
  public static final int DEFAULT_TOP_K = 5;

  /**
   * Config of the export session, which only runs variable loads (one per parameter) and the save:
   * Grappler's per-run graph optimization is pure overhead there (it slows every load run down;
   * BENCHMARKS.md, "Conversion"). The folded kernels are computed in FoldedKernels' own session with
   * the default config, and the SavedModel does not record a session config, so serving is
   * unaffected.
   */
  private static final ConfigProto LOAD_AND_SAVE = ConfigProto.newBuilder()
      .setGraphOptions(GraphOptions.newBuilder()
          .setRewriteOptions(RewriterConfig.newBuilder().setDisableMetaOptimizer(true)))
      .build();

  private final NFNetConfig config;
  private Function<ParameterSpec, TFloat32> values;
  private boolean fold = true;
  private boolean frozen;
  private Precision precision = Precision.FLOAT32;
  private int cropPadding = EvalPreprocessing.CROP_PADDING;
  private boolean force;
  private int topK = DEFAULT_TOP_K;
  private List<String> labels;
  private Path labelFile;
  private final Map<String, Object> cardExtras = new LinkedHashMap<>();

  /**
   * An exporter for one architecture; set its values with {@link #parameters}, then
   * {@link #export}.
   *
   * @param config the variant, with the number of classes of the weights to export
   */
  public NFNetExporter(NFNetConfig config) {
    this.config = Objects.requireNonNull(config);
  }

  /**
   * Raw (Haiku) parameter values. The exporter asks for them one at a time in forward order and
   * closes each returned tensor before asking for the next (folding holds a conv's {@code w} and
   * {@code gain} together), so a source that reads from a file never needs more than one
   * parameter in memory.
   */
  public NFNetExporter parameters(Function<ParameterSpec, TFloat32> values) {
    this.values = values;
    return this;
  }

  /** Raw parameter values keyed by Haiku key ({@code module/name}). */
  public NFNetExporter parameters(Map<String, FloatBuffer> byHaikuKey) {
    return parameters(fromMap(byHaikuKey));
  }

  /**
   * Convolution precision of the exported graph. {@link Precision#BFLOAT16} runs the convolutions
   * in bf16 (fast on CPUs with AMX/AVX512-BF16); a folded export then stores their kernels and
   * biases in bfloat16 (variables or constants: half the bytes, nothing to cast per call), the
   * rest of the weights in float32.
   */
  public NFNetExporter precision(Precision precision) {
    this.precision = precision;
    return this;
  }

  /**
   * Eval preprocessing of the image signatures: 32 (default) is DeepMind's 'resize_crop_32'; 0 a
   * plain resize to the test size, for models trained on frame-filling images (Fashion-MNIST).
   */
  public NFNetExporter cropPadding(int pixels) {
    this.cropPadding = pixels;
    return this;
  }

  /**
   * Fold weight standardization into the stored kernels (default true): each WSConv2D stores its
   * standardized, gain-scaled kernel {@code w_hat} and runs a plain convolution, with the same
   * outputs as the unfolded graph up to float32 rounding.
   */
  public NFNetExporter fold(boolean fold) {
    this.fold = fold;
    return this;
  }

  /**
   * Store the weights as graph constants instead of checkpoint variables (default false). Faster
   * CPU inference where oneDNN's weight cache is off (oneDNN caches constant filters on its own),
   * at the cost of a GraphDef as large as the weights (float32 up to F5, bf16 up to F6) and no
   * variables to fine-tune from. See {@link FrozenWeights}.
   */
  public NFNetExporter frozen(boolean frozen) {
    this.frozen = frozen;
    return this;
  }

  /** Replace an existing export of this tool (or an empty directory); anything else is refused. */
  public NFNetExporter force(boolean force) {
    this.force = force;
    return this;
  }

  /**
   * How many classes the {@code top_k_*} outputs list (default {@value #DEFAULT_TOP_K}; capped at
   * the number of classes).
   *
   * @throws IllegalArgumentException if {@code k < 1}
   */
  public NFNetExporter topK(int k) {
    if (k < 1) {
      throw new IllegalArgumentException("top-k must be >= 1, got " + k);
    }
    this.topK = k;
    return this;
  }

  /**
   * Class names for {@code top_k_labels} and {@code assets.extra/labels.txt}, one per class
   * (default: ImageNet's for 1000 classes, else {@code class_0..}).
   */
  public NFNetExporter labels(List<String> labels) {
    this.labels = List.copyOf(labels);
    return this;
  }

  /** One class name per line, e.g. for fine-tuned models. */
  public NFNetExporter labelFile(Path file) {
    this.labelFile = file;
    return this;
  }

  /** Extra model-card fields, e.g. {@code source_file}, {@code md5}. */
  public NFNetExporter modelCard(Map<String, Object> extras) {
    cardExtras.putAll(extras);
    return this;
  }

  /**
   * What {@link #export} produced.
   *
   * @param dir the export directory
   * @param bytes its size on disk
   * @param millis wall time of the export
   * @param folded whether weight standardization was folded into the kernels
   * @param parameterCount the variant's parameter count
   * @param storedValues values stored in the checkpoint or graph (folding drops the gains)
   * @param frozen whether the weights are graph constants
   */
  public record Result(Path dir, long bytes, long millis, boolean folded, long parameterCount,
      long storedValues, boolean frozen) {}

  /**
   * A parameter source over values keyed by Haiku key ({@code module/name}).
   *
   * @throws IllegalArgumentException (from the function) for a missing key or a wrong size
   */
  public static Function<ParameterSpec, TFloat32> fromMap(Map<String, FloatBuffer> byHaikuKey) {
    return spec -> {
      FloatBuffer v = byHaikuKey.get(spec.haikuKey());
      if (v == null) {
        throw new IllegalArgumentException("no value for parameter " + spec.haikuKey());
      }
      if (v.remaining() != spec.size()) {
        throw new IllegalArgumentException("parameter " + spec.haikuKey() + " has " + v.remaining()
            + " values, expected " + spec.size() + " for shape " + spec.shapeString());
      }
      return TFloat32.tensorOf(Shape.of(spec.shape()), DataBuffers.of(v.duplicate()));
    };
  }

  /**
   * Exports into {@code dir}: written into a hidden temporary directory beside it and renamed into
   * place, so {@code dir} is either the complete export or untouched.
   *
   * @throws java.nio.file.FileAlreadyExistsException if {@code dir} exists and {@link #force} is off
   * @throws IOException if the export cannot be written
   */
  public Result export(Path dir) throws IOException {
    Objects.requireNonNull(values, "no parameter values: call parameters(...) first");
    long t0 = System.nanoTime();
    Path target = dir.toAbsolutePath().normalize();
    ExportDirectory.check(target, force);
    int numClasses = config.numClasses();
    List<String> names = labels != null ? labels : Labels.forModel(numClasses, labelFile);
    Labels.check(names, numClasses);
    int k = Math.min(topK, numClasses);
    ExportDirectory out = ExportDirectory.create(target, force);
    Path tmp = out.temp();
    long stored;
    try {
      try (Graph g = new Graph(); Session s = new Session(g, LOAD_AND_SAVE);
          FoldedKernels folder = new FoldedKernels(config);
          Bfloat16Rounding rounding = frozen && bf16Storage() ? new Bfloat16Rounding() : null) {
        List<ParameterSpec> raw = NFNetStructure.parameters(config);
        List<ParameterSpec> specs = fold ? FoldedKernels.foldedSpecs(raw) : raw;
        Function<ParameterSpec, TFloat32> source = fold ? folder.values(values) : values;
        Set<String> bf16 = bf16Storage() ? FoldedKernels.bf16Parameters(specs) : Set.of();
        ExportWeights vars;
        if (frozen) {
          // Constants are created (and their host tensors closed) as the network asks for them.
          vars = new FrozenWeights(specs, source, fold, bf16, rounding);
        } else {
          // Variables first, streamed in one parameter at a time while the graph is still small
          // (see PreloadedVariables): peak host memory is the variables plus one parameter.
          PreloadedVariables pv = new PreloadedVariables(g, specs, fold, bf16);
          pv.load(s, source);
          vars = pv;
        }
        Built b = build(Ops.create(g), names, k, vars);
        vars.checkAllRequested();
        stored = vars.storedValues();
        SavedModelBundle.Exporter ex = SavedModelBundle.exporter(tmp.toString()).withTags(TAG);
        for (Signature sig : b.signatures) {
          ex.withFunction(s.function(sig));
        }
        ex.export();
      }
      Path labelsPath = tmp.resolve(LABELS_FILE);
      Files.createDirectories(labelsPath.getParent());
      Files.writeString(labelsPath, String.join("\n", names) + "\n");
      Map<String, Object> extras = new java.util.LinkedHashMap<>(cardExtras);
      extras.put("weights", (frozen ? "graph constants (frozen)" : "variables")
          + (bf16Storage() ? "; convolution kernels and biases in bfloat16" : ""));
      ModelCard.write(tmp, config, new EvalPreprocessing(config.testImsize(), cropPadding), fold,
          precision, k, NFNetStructure.parameterCount(config), stored, extras);
      out.commit();
    } finally {
      out.abort(); // no-op once committed
    }
    return new Result(target, sizeOf(target), (System.nanoTime() - t0) / 1_000_000, fold,
        NFNetStructure.parameterCount(config), stored, frozen);
  }

  /**
   * Whether a folded bf16 export's convolution kernels and biases, which its graph only ever casts
   * to bf16, are stored in bfloat16 (same values, half the bytes, no per-call cast), as variables
   * or as constants.
   */
  private boolean bf16Storage() {
    return precision == Precision.BFLOAT16 && fold;
  }

  /**
   * The serving signatures of an export ({@code serving_default}, {@code encoded},
   * {@code logits_from_normalized}, {@code features}, with this exporter's labels, top-k, eval
   * preprocessing and precision) built in {@code scope} of a caller's graph on the caller's
   * unfolded float32 parameters, e.g. the EMA variables of a training graph (nothing is folded or
   * stored; {@code parameters} is asked once per parameter, with no initializer).
   */
  public List<Signature> signatures(Ops scope, ParameterSource parameters) throws IOException {
    int numClasses = config.numClasses();
    List<String> names = labels != null ? labels : Labels.forModel(numClasses, labelFile);
    Labels.check(names, numClasses);
    ExportWeights vars = new ExportWeights(NFNetStructure.parameters(config), false) {
      @Override
      Operand<TFloat32> create(Ops module, ParameterSpec spec) {
        return parameters.get(module, spec, null);
      }
    };
    Built b = build(scope, names, Math.min(topK, numClasses), vars);
    vars.checkAllRequested();
    return b.signatures();
  }

  /** The inference graph on top of the loaded variables: both network copies, heads, signatures. */
  record Built(List<Signature> signatures) {}

  Built build(Ops tf, List<String> names, int k, ExportWeights vars) {
    EvalPreprocessing prep = new EvalPreprocessing(config.testImsize(), cropPadding);
    NFNet net = new NFNet(config, precision);
    boolean folded = vars.foldedKernels();
    ParameterSource src = vars;

    Placeholder<TUint8> images = tf.withName("images").placeholder(TUint8.class,
        Placeholder.shape(Shape.of(-1, -1, -1, 3)));
    Operand<TFloat32> pre = prep.apply(tf.withSubScope("preprocess"), images);
    Operand<TFloat32> normalized = tf.withName("normalized").placeholderWithDefault(pre,
        Shape.of(-1, -1, -1, 3));
    NFNetOutputs out = net.build(tf, normalized, src, ForwardOptions.inference());
    Heads main = heads(tf.withSubScope("outputs"), out, names, k);

    Placeholder<TString> bytes = tf.withName("image_bytes").placeholder(TString.class,
        Placeholder.shape(Shape.of(-1)));
    Ops enc = tf.withSubScope(ENCODED);
    Operand<TFloat32> encPre = prep.applyEncoded(enc.withSubScope("preprocess"), bytes);
    ParameterSource shared = new ParameterSource() {
      @Override
      public Operand<TFloat32> get(Ops module, ParameterSpec spec, ParameterInit init) {
        return vars.read(spec.haikuKey());
      }

      @Override
      public Optional<Operand<TBfloat16>> bf16(ParameterSpec spec) {
        return vars.bf16(spec);
      }

      @Override
      public boolean foldedKernels() {
        return folded;
      }
    };
    NFNetOutputs encOut = net.build(enc, encPre, shared, ForwardOptions.inference());
    Heads encHeads = heads(enc.withSubScope("outputs"), encOut, names, k);

    List<Signature> sigs = new ArrayList<>();
    sigs.add(main.signature(SERVING_DEFAULT, "images", images));
    sigs.add(encHeads.signature(ENCODED, "image_bytes", bytes));
    sigs.add(Signature.builder().key(LOGITS_FROM_NORMALIZED).methodName(METHOD)
        .input("normalized", normalized).output("logits", main.logits).output("pooled", main.pooled).build());
    sigs.add(Signature.builder().key(FEATURES).methodName(METHOD)
        .input("images", images).output("features", main.pooled).build());
    return new Built(sigs);
  }

  private record Heads(Operand<TFloat32> logits, Operand<TFloat32> pooled, Operand<TFloat32> probs,
      Operand<TInt32> topIdx, Operand<TFloat32> topProb, Operand<TString> topLabels) {
    Signature signature(String key, String inputName, Operand<?> input) {
      return Signature.builder().key(key).methodName(METHOD).input(inputName, input)
          .output("logits", logits).output("probabilities", probs)
          .output("top_k_indices", topIdx).output("top_k_probabilities", topProb)
          .output("top_k_labels", topLabels).build();
    }
  }

  private static Heads heads(Ops tf, NFNetOutputs out, List<String> names, int k) {
    Operand<TFloat32> logits = tf.withName("logits").identity(out.logits());
    Operand<TFloat32> pooled = tf.withName("pooled").identity(out.pooled());
    Operand<TFloat32> probs = tf.withName("probabilities").nn.softmax(logits);
    TopK<TFloat32, TInt32> top = tf.withName("top_k").nn.topK(probs, tf.constant(k), new TopK.Options[0]);
    Operand<TString> table = tf.withName("labels").array(names.toArray(new String[0]));
    Operand<TString> topLabels = tf.withName("top_k_labels").gather(table, top.indices(), tf.constant(0));
    return new Heads(logits, pooled, probs,
        tf.withName("top_k_indices").identity(top.indices()),
        tf.withName("top_k_probabilities").identity(top.values()), topLabels);
  }

  static long sizeOf(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    }
  }
}
