package org.nfnet.zoo.graph;

import java.util.Locale;

/**
 * Arithmetic precision of the convolutions.
 *
 * <p>{@link #BFLOAT16} keeps float32 master weights and float32 everywhere else (weight
 * standardization, activations, squeeze-excite, pooling, head), and casts only each convolution's
 * input and standardized kernel to bfloat16, casting the result back to float32. Convolutions are
 * where nearly all the multiply-accumulates are, and where oneDNN has fast bf16 kernels (AMX /
 * AVX512-BF16 on recent Xeons); element-wise ops gain nothing from bf16 on CPU. A source that
 * already stores a convolution's kernel and bias in bfloat16 ({@link ParameterSource#bf16}, a
 * bf16 serving export) is read as stored, with no cast.
 */
public enum Precision {
  FLOAT32,
  BFLOAT16;

  /** The name {@link #parse} takes and model cards record: {@code float32} or {@code bfloat16}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Precision parse(String s) {
    return switch (s.trim().toLowerCase(Locale.ROOT)) {
      case "float32", "fp32", "f32" -> FLOAT32;
      case "bfloat16", "bf16" -> BFLOAT16;
      default -> throw new IllegalArgumentException(
          "unknown precision '" + s + "'; valid: float32, bfloat16");
    };
  }
}
