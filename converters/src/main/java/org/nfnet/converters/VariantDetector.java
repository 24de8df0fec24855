package org.nfnet.converters;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.Variants;

/**
 * Finds which named variant (F0..F7, F0+..F7+) a set of weights belongs to by comparing parameter
 * names and shapes, ignoring the classifier's output size, which is read from
 * {@code NFNet/~/linear/w}.
 */
public final class VariantDetector {
  /** A match: the variant's config with the file's number of classes. */
  public record Detection(String variant, int numClasses, NFNetConfig config) {}

  /** How far a candidate is from the file (for the error when nothing matches). */
  record Distance(String variant, int missing, int wrongShape, int extra) {
    int total() {
      return missing + wrongShape + extra;
    }

    String describe() {
      return variant + " (" + missing + " missing, " + wrongShape + " with another shape, " + extra
          + " extra)";
    }
  }

  private VariantDetector() {}

  /** @throws WeightFileException when no named variant matches, naming the closest one and why */
  public static Detection detect(HaikuParams params) {
    ParamArray classifier = params.get(NFNetStructure.classifierModule() + "/w");
    if (classifier == null || classifier.shape().length != 2) {
      throw new WeightFileException(params.file(), "cannot detect the variant: no 2-D classifier "
          + "weight " + NFNetStructure.classifierModule() + "/w in the file");
    }
    long classes = classifier.shape()[1];
    if (classes < 1 || classes > Integer.MAX_VALUE) {
      throw new WeightFileException(params.file(), "classifier has " + classes + " outputs");
    }
    Distance best = null;
    for (String name : Variants.names()) {
      NFNetConfig c = Variants.get(name).withNumClasses((int) classes);
      Distance d = distance(name, NFNetStructure.parameters(c), params);
      if (d.total() == 0) {
        return new Detection(name, (int) classes, c);
      }
      if (best == null || d.total() < best.total()) {
        best = d;
      }
    }
    throw new WeightFileException(params.file(), "the weights match no named NFNet variant ("
        + String.join(", ", Variants.names()) + "); closest is " + best.describe()
        + ". For a custom architecture, describe it in a variant file and pass --variant FILE.json "
        + "(see variants/).");
  }

  static Distance distance(String variant, List<ParameterSpec> expected, HaikuParams params) {
    Map<String, ParameterSpec> exp = new HashMap<>();
    int missing = 0;
    int wrong = 0;
    for (ParameterSpec s : expected) {
      exp.put(s.haikuKey(), s);
      ParamArray a = params.get(s.haikuKey());
      if (a == null) {
        missing++;
      } else if (!Arrays.equals(a.shape(), s.shape())) {
        wrong++;
      }
    }
    int extra = 0;
    for (String k : params.byKey().keySet()) {
      if (!exp.containsKey(k)) {
        extra++;
      }
    }
    return new Distance(variant, missing, wrong, extra);
  }
}
