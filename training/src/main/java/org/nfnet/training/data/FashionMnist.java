package org.nfnet.training.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TUint8;

/**
 * Fashion-MNIST (28x28 grayscale, 10 classes) from IDX files.
 *
 * <p>{@link #load(String)} with {@code "fashion-mnist"} uses the full data set installed by the
 * Debian package {@code dataset-fashion-mnist} ({@code /usr/share/datasets/fashion-mnist/*.gz},
 * 60,000 train + 10,000 test) when present, else the balanced subset bundled in this module's
 * resources ({@code fashion-mnist-subset/}: 2,000 train + 500 test). It logs which one it used;
 * {@link #source()} tells it too.
 *
 * <p>The IDX files are parsed on the host once; the pixels become one uint8 constant in the graph,
 * and everything else (float conversion, 3-channel replication, resize, augmentation,
 * normalisation) runs in the {@code tf.data} pipeline; {@link #input} is the training stream at a
 * batch size and seed, with the test split as its {@link InputSource#eval()}.
 */
public final class FashionMnist {
  private static final System.Logger LOG = System.getLogger(FashionMnist.class.getName());

  public static final List<String> CLASS_NAMES = List.of(
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
      "Ankle boot");

  public static final Path DEBIAN_DIR = Path.of("/usr/share/datasets/fashion-mnist");
  static final String RESOURCE_DIR = "/fashion-mnist-subset/";
  static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
  static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
  static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
  static final String TEST_LABELS = "t10k-labels-idx1-ubyte";

  public enum Source { DEBIAN, BUNDLED_SUBSET, DIRECTORY }

  private final Source source;
  private final String location;
  private final Idx.Array trainImages, trainLabels, testImages, testLabels;

  private FashionMnist(Source source, String location, Idx.Array trI, Idx.Array trL, Idx.Array teI,
      Idx.Array teL) {
    check(trI, trL, "train");
    check(teI, teL, "test");
    this.source = source;
    this.location = location;
    this.trainImages = trI;
    this.trainLabels = trL;
    this.testImages = teI;
    this.testLabels = teL;
  }

  /**
   * @param name {@code "fashion-mnist"} (Debian files if installed, else bundled subset), {@code
   *     "fashion-mnist-subset"} (always the bundled subset), or a directory holding the four IDX
   *     files (optionally {@code .gz}).
   */
  public static FashionMnist load(String name) {
    FashionMnist d;
    if (name.equals("fashion-mnist")) {
      d = hasIdxFiles(DEBIAN_DIR) ? fromDirectory(DEBIAN_DIR, Source.DEBIAN) : bundled();
    } else if (name.equals("fashion-mnist-subset")) {
      d = bundled();
    } else if (Files.isDirectory(Path.of(name))) {
      d = fromDirectory(Path.of(name), Source.DIRECTORY);
    } else {
      throw new IllegalArgumentException("unknown Fashion-MNIST source: " + name);
    }
    LOG.log(System.Logger.Level.INFO, "Fashion-MNIST: using {0}", d.description());
    return d;
  }

  /** The subset bundled in the jar. */
  public static FashionMnist bundled() {
    try {
      return new FashionMnist(Source.BUNDLED_SUBSET, "classpath:" + RESOURCE_DIR,
          resource(TRAIN_IMAGES), resource(TRAIN_LABELS), resource(TEST_IMAGES),
          resource(TEST_LABELS));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static boolean hasIdxFiles(Path dir) {
    for (String f : List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)) {
      if (find(dir, f) == null) return false;
    }
    return true;
  }

  static FashionMnist fromDirectory(Path dir, Source source) {
    try {
      return new FashionMnist(source, dir.toString(), Idx.read(need(dir, TRAIN_IMAGES)),
          Idx.read(need(dir, TRAIN_LABELS)), Idx.read(need(dir, TEST_IMAGES)),
          Idx.read(need(dir, TEST_LABELS)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Source source() {
    return source;
  }

  public String description() {
    return String.format("%s (%s): %d train + %d test images", source, location,
        trainImages.count(), testImages.count());
  }

  /**
   * The training split as batches of {@code batchSize} (shuffled and augmented with {@code seed}),
   * evaluated on the test split ({@link InputSource#eval()}); both preprocessed per {@code
   * options}.
   */
  public InputSource input(DataOptions options, int batchSize, long seed) {
    return new SplitInput(train(options), test(options), batchSize, seed);
  }

  Split train(DataOptions options) {
    return new IdxSplit("train", trainImages, trainLabels, options);
  }

  Split test(DataOptions options) {
    return new IdxSplit("test", testImages, testLabels, options);
  }

  public Idx.Array trainImages() { return trainImages; }
  public Idx.Array trainLabels() { return trainLabels; }
  public Idx.Array testImages() { return testImages; }
  public Idx.Array testLabels() { return testLabels; }

  private static final class IdxSplit extends Split {
    private final String name;
    private final Idx.Array images, labels;
    private final DataOptions options;

    IdxSplit(String name, Idx.Array images, Idx.Array labels, DataOptions options) {
      this.name = name;
      this.images = images;
      this.labels = labels;
      this.options = options;
    }

    @Override int numClasses() { return CLASS_NAMES.size(); }
    @Override long size() { return images.count(); }

    @Override
    Batch build(Ops tf, int batchSize, boolean training, long seed, long startStep) {
      if (!training) startStep = 0;
      if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1");
      Ops d = tf.withSubScope("fashion_mnist_" + name);
      Operand<TUint8> pixels;
      try (TUint8 t = TUint8.tensorOf(Shape.of(images.dims()[0], images.dims()[1], images.dims()[2]),
          DataBuffers.of(images.data(), true, false))) {
        pixels = d.constantOf(t);
      }
      int[] lab = new int[labels.count()];
      for (int i = 0; i < lab.length; i++) lab[i] = labels.data()[i] & 0xff;
      Pipe p = Pipe.slices(d, List.of(pixels, d.constant(lab)));
      Augment aug = options.augment();
      int inputs = training ? batchSize * MixCut.inputFactor(aug) : batchSize;
      if (training) {
        if (inputs > size()) throw new IllegalArgumentException("batch larger than the split");
        p = p.shuffle(Math.min(size(), options.shuffleBuffer()), seed).repeat()
            .skip(startStep * inputs);
      }
      p = p.batch(inputs, training).withIndex(startStep);
      int imageSize = training ? options.trainSize() : options.evalSize();
      p = p.map((ftf, in) -> {
        @SuppressWarnings("unchecked") Operand<TUint8> x = (Operand<TUint8>) in.get(0);
        @SuppressWarnings("unchecked") Operand<TInt32> y = (Operand<TInt32>) in.get(1);
        Rng rng = new Rng(ftf, seed, Preprocess.scalarIndex(in.get(2)));
        // RandAugment runs inside grayBatch at 28 px (before the resize), not in the batch tail
        Operand<TFloat32> img = Preprocess.grayBatch(ftf, x, imageSize, training,
            training ? aug.randAugment() : null, rng.fork(0));
        Augment rest = new Augment(null, aug.mixupAlpha(), aug.cutmix());
        return Preprocess.batchTail(ftf, img, y, CLASS_NAMES.size(), training, rest, rng, batchSize);
      }, Math.max(1, options.parallelCalls()), true);
      if (options.prefetch() > 0) p = p.prefetch(options.prefetch());
      return Datasets.toBatch(p.iterate());
    }
  }

  private static void check(Idx.Array images, Idx.Array labels, String split) {
    if (images.dims().length != 3 || labels.dims().length != 1 || images.count() != labels.count()) {
      throw new IllegalArgumentException("bad Fashion-MNIST " + split + " arrays: " + images + " / " + labels);
    }
  }

  private static Idx.Array resource(String base) throws IOException {
    try (InputStream in = FashionMnist.class.getResourceAsStream(RESOURCE_DIR + base + ".gz")) {
      if (in == null) throw new IOException("missing bundled resource " + RESOURCE_DIR + base + ".gz");
      return Idx.read(in);
    }
  }

  private static Path find(Path dir, String base) {
    for (String name : List.of(base, base + ".gz")) {
      Path p = dir.resolve(name);
      if (Files.isReadable(p)) return p;
    }
    return null;
  }

  private static Path need(Path dir, String base) throws IOException {
    Path p = find(dir, base);
    if (p == null) throw new IOException("no " + base + "[.gz] in " + dir);
    return p;
  }
}
