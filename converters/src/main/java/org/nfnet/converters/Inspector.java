package org.nfnet.converters;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.nfnet.converters.validation.VariantDetector;

/**
 * Describes a weight file without building any TensorFlow graph and without reading the array
 * data: format, protocol, globals, structure, detected variant. A hostile or broken file yields a
 * report with the refusal instead of an exception.
 */
public final class Inspector {
  private static final int SHOWN = 8;

  private Inspector() {}

  public static InspectionReport inspect(Path file) {
    return inspect(file, ReadOptions.defaults());
  }

  public static InspectionReport inspect(Path file, ReadOptions options) {
    try (HaikuParams p = WeightFileReader.read(file, options)) {
      String variant = null;
      int classes = -1;
      String note = null;
      try {
        VariantDetector.Detection d = VariantDetector.detect(p);
        variant = d.variant();
        classes = d.numClasses();
      } catch (WeightFileException e) {
        note = e.getMessage().substring(e.getMessage().indexOf(": ") + 2);
        ParamArray cls = p.get("NFNet/~/linear/w");
        if (cls != null && cls.shape().length == 2) {
          classes = (int) cls.shape()[1];
        }
      }
      List<String> first = p.arrays().stream().limit(SHOWN)
          .map(a -> a.haikuKey() + " " + a.shapeString() + " " + a.dtype().pythonName()).toList();
      return new InspectionReport(file, null, p.format(), p.protocol(), p.layout(), p.globals(), p.topLevelType(),
          p.moduleCount(), p.arrayCount(), p.totalElements(), variant, classes, note, first, p.warnings());
    } catch (WeightFileException | UncheckedIOException e) {
      return refused(file, e.getMessage());
    } catch (java.io.IOException e) {
      return refused(file, "closing: " + e.getMessage());
    } catch (RuntimeException e) {
      // a bug in the reader must still not crash inspect; say what happened
      return refused(file, "internal error while reading: " + e);
    }
  }

  private static InspectionReport refused(Path file, String why) {
    return new InspectionReport(file, why, null, -1, null, Map.of(), null, 0, 0, 0, null, -1, null,
        List.of(), List.of());
  }
}
