package org.nfnet.cli;

import org.nfnet.zoo.graph.Precision;
import picocli.CommandLine.Option;

/** {@code --precision}, for the commands that export a SavedModel: convert and pull. */
final class PrecisionOption {
  @Option(names = "--precision", paramLabel = "PRECISION", defaultValue = "float32",
      description = "Convolution precision of the SavedModel: float32 or bfloat16 (convolution"
          + " kernels and biases then stored in bfloat16, the other weights in float32).")
  String value;

  /** The precision; a value that is none is an error naming the option. */
  Precision get() {
    try {
      return Precision.parse(value);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--precision: " + e.getMessage(), e);
    }
  }
}
