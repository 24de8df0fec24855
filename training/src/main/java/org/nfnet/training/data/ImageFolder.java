package org.nfnet.training.data;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * A directory with one sub-folder per class ({@code root/<class>/<image>}), class index = position
 * of the folder name in sorted order. JPEG, PNG, GIF (first frame) and BMP files are used.
 *
 * <p>Corrupt files: {@link #open} runs a parallel host-side pre-pass over all files that checks
 * each file's signature and end marker (JPEG SOI {@code FFD8FF} and an EOI {@code FFD9} near the
 * end; PNG signature and an {@code IEND} chunk; GIF/BMP magic). Files that fail are skipped,
 * counted ({@link #skipped()}) and reported in one warning, so {@link #size()} is exact for them. As
 * a safety net for files that pass the check but still fail to decode, the pipeline also has an
 * {@code IgnoreErrorsDataset} after the decode map: such elements are dropped (TF logs a warning)
 * instead of failing the run. (Such drops shift later batches, so a stream resumed with {@link
 * InputSource#startingAt} is exact only when no file is dropped at run time.)
 *
 * <p>{@link #input} is the training stream at a batch size and seed, evaluated on another folder.
 *
 * <p>Training: decode, Inception-style distorted crop, random flip, bicubic resize (DeepMind), then
 * RandAugment / normalisation / MixUp / CutMix on the batch. Evaluation: DeepMind's {@code
 * resize_crop_32} (bicubic resize to (S+32)^2, centre crop S^2) and normalisation, using the zoo's
 * {@code org.nfnet.zoo.preprocess.EvalPreprocessing} per image.
 */
public final class ImageFolder extends Split {
  private static final System.Logger LOG = System.getLogger(ImageFolder.class.getName());
  private static final List<String> EXTENSIONS = List.of(".jpg", ".jpeg", ".png", ".gif", ".bmp");

  private final Path root;
  private final List<String> classNames;
  private final List<Path> files;
  private final int[] labels;
  private final List<Path> skipped;
  private final DataOptions options;

  private ImageFolder(Path root, List<String> classNames, List<Path> files, int[] labels,
      List<Path> skipped, DataOptions options) {
    this.root = root;
    this.classNames = classNames;
    this.files = files;
    this.labels = labels;
    this.skipped = skipped;
    this.options = options;
  }

  /** Lists and validates {@code root/<class>/*}. */
  public static ImageFolder open(Path root, DataOptions options) {
    if (!Files.isDirectory(root)) throw new IllegalArgumentException("not a directory: " + root);
    List<String> classes = new ArrayList<>();
    try (Stream<Path> s = Files.list(root)) {
      s.filter(Files::isDirectory).map(p -> p.getFileName().toString())
          .filter(n -> !n.startsWith(".")).sorted().forEach(classes::add);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (classes.isEmpty()) throw new IllegalArgumentException("no class folders in " + root);
    List<Path> candidates = new ArrayList<>();
    List<Integer> candLabels = new ArrayList<>();
    for (int c = 0; c < classes.size(); c++) {
      try (Stream<Path> s = Files.walk(root.resolve(classes.get(c)))) {
        List<Path> inClass = s.filter(Files::isRegularFile).filter(ImageFolder::isImageName)
            .sorted().toList();
        for (Path p : inClass) {
          candidates.add(p);
          candLabels.add(c);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    boolean[] ok = new boolean[candidates.size()];
    java.util.stream.IntStream.range(0, ok.length).parallel()
        .forEach(i -> ok[i] = looksValid(candidates.get(i)));
    List<Path> files = new ArrayList<>();
    List<Path> bad = new ArrayList<>();
    int[] labels = new int[candidates.size()];
    int n = 0;
    for (int i = 0; i < ok.length; i++) {
      if (ok[i]) {
        files.add(candidates.get(i));
        labels[n++] = candLabels.get(i);
      } else {
        bad.add(candidates.get(i));
      }
    }
    if (!bad.isEmpty()) {
      LOG.log(System.Logger.Level.WARNING,
          "{0}: skipped {1} corrupt or unreadable image(s) of {2}, e.g. {3}", root, bad.size(),
          candidates.size(), bad.get(0));
    }
    if (files.isEmpty()) throw new IllegalArgumentException("no readable images under " + root);
    return new ImageFolder(root, List.copyOf(classes), List.copyOf(files),
        java.util.Arrays.copyOf(labels, n), Collections.unmodifiableList(bad), options);
  }

  public Path root() { return root; }
  public List<Path> files() { return files; }
  public int[] labels() { return labels.clone(); }
  /** Usable images per class, in class-index order (0 for a class folder without images). */
  public int[] classCounts() {
    int[] counts = new int[classNames.size()];
    for (int l : labels) {
      counts[l]++;
    }
    return counts;
  }

  /** Files dropped by the host-side validation pre-pass. */
  public List<Path> skipped() { return skipped; }
  public DataOptions options() { return options; }

  @Override public int numClasses() { return classNames.size(); }
  @Override public long size() { return files.size(); }
  public List<String> classNames() { return classNames; }

  /**
   * This folder as training batches of {@code batchSize} (shuffled and augmented with {@code
   * seed}), evaluated on {@code eval} ({@link InputSource#eval()}; null: no evaluation split).
   *
   * @throws IllegalArgumentException if {@code eval} has other classes
   */
  public InputSource input(int batchSize, long seed, ImageFolder eval) {
    if (eval != null && !eval.classNames.equals(classNames)) {
      throw new IllegalArgumentException(eval.root + " has classes " + eval.classNames
          + " but " + root + " has " + classNames);
    }
    return new SplitInput(this, eval, batchSize, seed);
  }

  @Override
  Batch build(Ops tf, int batchSize, boolean training, long seed, long startStep) {
    if (!training) startStep = 0;
    if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1");
    Ops d = tf.withSubScope("image_folder");
    String[] paths = files.stream().map(Path::toString).toArray(String[]::new);
    Pipe p = Pipe.slices(d, List.of(
        d.constant(StandardCharsets.UTF_8, paths), d.constant(labels)));
    Augment aug = options.augment();
    int inputs = training ? batchSize * MixCut.inputFactor(aug) : batchSize;
    long skipped = startStep * inputs;
    if (training) p = p.shuffle(Math.min(size(), options.shuffleBuffer()), seed).repeat().skip(skipped);
    int size = training ? options.trainSize() : options.evalSize();
    p = p.withIndex(skipped).map((ftf, in) -> {
      @SuppressWarnings("unchecked") Operand<TString> path = (Operand<TString>) in.get(0);
      Operand<TUint8> image = Preprocess.decodeFile(ftf, path);
      Operand<TFloat32> out = training
          ? Preprocess.trainCrop(ftf, image, size,
              new Rng(ftf, Rng.mix(seed ^ 0x51ED), Preprocess.scalarIndex(in.get(2))))
          : Preprocess.evalResizeCropNormalize(ftf, image, size);
      return List.of(out, in.get(1));
    }, options.parallelCalls(), true).ignoreErrors();
    p = p.batch(inputs, training).withIndex(startStep);
    int classes = numClasses();
    p = p.map((ftf, in) -> {
      @SuppressWarnings("unchecked") Operand<TFloat32> x = (Operand<TFloat32>) in.get(0);
      @SuppressWarnings("unchecked") Operand<TInt32> y = (Operand<TInt32>) in.get(1);
      Rng rng = new Rng(ftf, seed, Preprocess.scalarIndex(in.get(2)));
      return Preprocess.batchTail(ftf, x, y, classes, training, aug, rng, !training, batchSize);
    }, 1, true);
    if (options.prefetch() > 0) p = p.prefetch(options.prefetch());
    return Datasets.toBatch(p.iterate());
  }

  static boolean isImageName(Path p) {
    String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
    if (n.startsWith(".")) return false;
    for (String e : EXTENSIONS) if (n.endsWith(e)) return true;
    return false;
  }

  /** Cheap structural check: magic bytes and, for JPEG/PNG, the end marker near the end. */
  static boolean looksValid(Path p) {
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "r")) {
      long len = f.length();
      if (len < 24) return false;
      byte[] head = new byte[8];
      f.readFully(head);
      int tailLen = (int) Math.min(len, 4096);
      byte[] tail = new byte[tailLen];
      f.seek(len - tailLen);
      f.readFully(tail);
      if ((head[0] & 0xff) == 0xFF && (head[1] & 0xff) == 0xD8 && (head[2] & 0xff) == 0xFF) {
        for (int i = tail.length - 2; i >= 0; i--) {
          if ((tail[i] & 0xff) == 0xFF && (tail[i + 1] & 0xff) == 0xD9) return true;
        }
        return false;
      }
      byte[] png = {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
      if (java.util.Arrays.equals(head, png)) {
        return new String(tail, StandardCharsets.ISO_8859_1).contains("IEND");
      }
      if (head[0] == 'G' && head[1] == 'I' && head[2] == 'F' && head[3] == '8') return true;
      return head[0] == 'B' && head[1] == 'M';
    } catch (IOException e) {
      return false;
    }
  }
}
