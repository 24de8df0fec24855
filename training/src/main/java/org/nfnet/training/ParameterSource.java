package org.nfnet.training;

import java.nio.FloatBuffer;
import org.nfnet.zoo.ParameterSpec;

/**
 * Where fine-tuning reads its start weights from. The training library does not read weight
 * files itself: the caller (the CLI, through the converters' reader and validator) supplies the
 * values, so {@code training} depends on {@code zoo} only.
 */
public interface ParameterSource {
  /** What the values come from, for messages (e.g. the weight file's path). */
  String description();

  /** The float32 values of {@code spec} in row-major order, or null when there is no such entry. */
  FloatBuffer values(ParameterSpec spec);
}
