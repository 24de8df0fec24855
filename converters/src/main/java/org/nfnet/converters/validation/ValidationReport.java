package org.nfnet.converters.validation;

import java.util.List;
import org.nfnet.converters.WeightFileException;

/**
 * What {@link WeightValidator} found: errors make the file unusable for the variant, warnings do
 * not. {@link #throwIfFailed(java.nio.file.Path)} turns errors into one exception listing all of them.
 */
public record ValidationReport(String variant, List<String> errors, List<String> warnings) {
  public ValidationReport {
    errors = List.copyOf(errors);
    warnings = List.copyOf(warnings);
  }

  public boolean ok() {
    return errors.isEmpty();
  }

  /** @throws WeightFileException listing every error, if there is one */
  public void throwIfFailed(java.nio.file.Path file) {
    if (!ok()) {
      throw new WeightFileException(file, "does not match NFNet variant " + variant + ":\n  - "
          + String.join("\n  - ", errors));
    }
  }
}
