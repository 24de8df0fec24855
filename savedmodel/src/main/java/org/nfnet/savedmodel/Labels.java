package org.nfnet.savedmodel;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Class names for the {@code top_k_labels} output. */
public final class Labels {
  private Labels() {}

  /** The 1000 ImageNet-1k class names in the standard (sorted synset) index order. */
  public static List<String> imagenet() {
    try (InputStream in = Labels.class.getResourceAsStream("imagenet_labels.txt")) {
      if (in == null) {
        throw new IllegalStateException("imagenet_labels.txt resource missing");
      }
      return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Label files larger than this are refused (ImageNet-21k's names take ~0.5 MB). */
  static final long MAX_BYTES = 16L << 20;

  /**
   * One label per line (UTF-8); blank trailing lines are ignored. A missing, non-regular, huge or
   * non-UTF-8 file fails with an IOException naming the file and the reason.
   */
  public static List<String> load(Path file) throws IOException {
    if (!Files.exists(file)) {
      throw new IOException("label file " + file + " does not exist");
    }
    if (!Files.isRegularFile(file)) {
      throw new IOException("label file " + file + " is not a regular file");
    }
    if (Files.size(file) > MAX_BYTES) {
      throw new IOException("label file " + file + " has " + Files.size(file) + " bytes, more than "
          + MAX_BYTES + " (expected one class name per line)");
    }
    try {
      return parse(Files.readString(file, StandardCharsets.UTF_8));
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new IOException("label file " + file + " is not UTF-8 text", e);
    } catch (IOException e) {
      throw new IOException("cannot read label file " + file + ": " + e, e);
    }
  }

  static List<String> parse(String text) {
    List<String> out = new ArrayList<>();
    for (String line : text.split("\r?\n", -1)) {
      out.add(line.strip());
    }
    while (!out.isEmpty() && out.get(out.size() - 1).isEmpty()) {
      out.remove(out.size() - 1);
    }
    return out;
  }

  /** {@code class_0 .. class_{n-1}}. */
  public static List<String> generic(int numClasses) {
    List<String> out = new ArrayList<>(numClasses);
    for (int i = 0; i < numClasses; i++) {
      out.add("class_" + i);
    }
    return out;
  }

  /**
   * The labels an export uses: the given file if any (must have exactly numClasses lines), else
   * ImageNet names for 1000 classes, else {@code class_<i>}.
   */
  public static List<String> forModel(int numClasses, Path labelFileOrNull) throws IOException {
    List<String> labels;
    if (labelFileOrNull != null) {
      labels = load(labelFileOrNull);
      if (labels.size() != numClasses) {
        throw new IllegalArgumentException("label file " + labelFileOrNull + " has " + labels.size()
            + " lines but the model has " + numClasses + " classes");
      }
    } else if (numClasses == 1000) {
      labels = imagenet();
    } else {
      labels = generic(numClasses);
    }
    check(labels, numClasses);
    return labels;
  }

  static void check(List<String> labels, int numClasses) {
    if (labels.size() != numClasses) {
      throw new IllegalArgumentException("label list has " + labels.size()
          + " entries but the model has " + numClasses + " classes");
    }
  }
}
