package org.nfnet.examples;

import java.io.IOException;
import java.nio.file.Path;
import org.nfnet.converters.ConversionInput;
import org.nfnet.converters.ReadOptions;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.zoo.NFNetConfig;

/**
 * Converts DeepMind's released weights (e.g. {@code F0_haiku.npz}) into a SavedModel that TF
 * Serving, Python TensorFlow and {@link org.nfnet.savedmodel.NFNetModel} load.
 *
 * <pre>Convert WEIGHTS OUT_DIR [VARIANT | variant.json]</pre>
 *
 * <p>Without a variant it is detected from the parameter shapes. The file is read by a pickle
 * reader that never executes anything from it, validated against the variant, and checked for
 * NaN/Inf while it is copied; the export is written to a temporary directory and renamed into
 * place.
 */
public final class Convert {
  private Convert() {}

  /**
   * Runs the example.
   *
   * @param args the weight file, the output directory (must not exist) and optionally a variant
   * @throws IOException if the weights cannot be read or the export cannot be written
   */
  public static void main(String[] args) throws IOException {
    NFNetConfig variant = args.length > 2 ? NFNetConfig.resolve(args[2]) : null;
    try (ConversionInput in = ConversionInput.open(Path.of(args[0]), variant, ReadOptions.defaults(), true)) {
      in.warnings().forEach(w -> System.err.println("warning: " + w));
      NFNetExporter.Result r = new NFNetExporter(in.config()).parameters(in.float32Tensors())
          .export(Path.of(args[1]));
      System.out.printf("%s: %,d parameters, %.1f MB written to %s%n", in.config().name(),
          r.parameterCount(), r.bytes() / 1e6, r.dir());
    }
  }
}
