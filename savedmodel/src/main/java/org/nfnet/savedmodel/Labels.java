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

  /** One label per line (UTF-8); blank trailing lines are ignored. */
  public static List<String> load(Path file) throws IOException {
    return parse(Files.readString(file, StandardCharsets.UTF_8));
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
