package org.nfnet.zoo.graph;

import org.nfnet.zoo.Activation;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TNumber;

/** Builds the gamma-scaled nonlinearities of {@link Activation} as TF ops. */
public final class Activations {
  /** sqrt(2 / pi), as jax.nn.gelu's tanh approximation uses it. */
  private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);
  /** {@link #geluTanh}'s constants: {@code gelu(x) = x * sigmoid(x * (C1 + C2 * x^2))}. */
  static final float GELU_C1 = (float) (2 * SQRT_2_OVER_PI);
  static final float GELU_C2 = (float) (2 * SQRT_2_OVER_PI * 0.044715);

  private Activations() {}

  /** {@code act(x) * gamma}. */
  public static Operand<TFloat32> apply(Ops tf, Activation a, Operand<TFloat32> x) {
    return times(tf, a, x, (float) a.gamma());
  }

  /**
   * {@code act(x)} without gamma, for inputs of WSConv2D: every such consumer is linear (after an
   * average pool at most), so the constant factor (gamma, times the block's beta) is folded into
   * its kernel ({@link org.nfnet.zoo.NFNetStructure#kernelInputScales}) instead of costing a
   * full-size multiply per call and another in the backward pass. Activations are memory-bound on
   * CPU, so each full-tensor op saved is worth it. In a graph that will be
   * {@code differentiated}, a GELU's backward pass keeps only {@code x} ({@link RecomputedGelu}).
   */
  static Operand<TFloat32> unscaled(Ops tf, Activation a, Operand<TFloat32> x,
      boolean differentiated) {
    Operand<TFloat32> y = times(tf, a, x, 1.0f);
    return differentiated && a == Activation.GELU && RecomputedGelu.available()
        ? RecomputedGelu.wrap(tf, y, x) : y;
  }

  /** {@code y * gamma} of {@code a}: the constant {@link #unscaled} leaves out. */
  static Operand<TFloat32> gamma(Ops tf, Activation a, Operand<TFloat32> y) {
    return scaled(tf, y, (float) a.gamma());
  }

  /** {@code act(x) * s}; no multiply at all when {@code s == 1}. */
  private static Operand<TFloat32> times(Ops tf, Activation a, Operand<TFloat32> x, float s) {
    return switch (a) {
      case GELU -> geluTanh(tf, x, s);
      case RELU -> scaled(tf, tf.nn.relu(x), s);
      case SILU -> tf.math.mul(scaled(tf, x, s), tf.math.sigmoid(x));
      case ELU -> scaled(tf, tf.nn.elu(x), s);
      case TANH -> scaled(tf, tf.math.tanh(x), s);
      case SIGMOID -> scaled(tf, tf.math.sigmoid(x), s);
      case IDENTITY -> scaled(tf, x, s);
    };
  }

  private static Operand<TFloat32> scaled(Ops tf, Operand<TFloat32> y, float s) {
    return s == 1.0f ? y : tf.math.mul(y, tf.constant(s));
  }

  /**
   * GELU with the tanh approximation (what {@code jax.nn.gelu} computes by default), times
   * {@code s}: {@code s * x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))}.
   *
   * <p>Evaluated through the identity {@code 0.5 * (1 + tanh(u)) = sigmoid(2u)} as
   * {@code (s * x) * sigmoid(x * (c1 + c2 * x^2))}: 6 element-wise ops instead of 9, agreeing
   * with the tanh form to float32 rounding (~1e-7 relative). TF 2.18 has no stand-alone Gelu op,
   * and the exact (erf) GELU would move logits by ~3e-4 of their range.
   */
  static Operand<TFloat32> geluTanh(Ops tf, Operand<TFloat32> x, float s) {
    Operand<TFloat32> z = tf.math.mul(x, tf.math.add(
        tf.math.mul(tf.math.square(x), tf.constant(GELU_C2)), tf.constant(GELU_C1)));
    return tf.math.mul(scaled(tf, x, s), tf.math.sigmoid(z));
  }

  /**
   * GELU (tanh form, no gamma) of a MatMul + BiasAdd result {@code m}, built so that TF's Grappler
   * remapper recognises it: with oneDNN on (TF's default on x86 CPUs) the remapper folds the chain
   * into the product as a GELU post-op ({@code _FusedMatMul} with fused ops BiasAdd +
   * GeluApproximate), so the activation costs no memory pass of its own, and in bf16 no casts.
   *
   * <p>The remapper matches op types and operand order after Grappler's arithmetic pass, which
   * re-associates constant multiplies; {@code (0.5 m) (1 + tanh(sqrt(2/pi) (m + (0.044715 m) m^2)))}
   * written in exactly this order is what comes out of that pass in the matched shape (checked by
   * {@code GeluFusionTest}; other equivalent orders, Python's {@code tf.nn.gelu} among them, were
   * left unfused by TF 2.18). Without oneDNN (GPUs, other builds) it runs as 9 element-wise ops,
   * which is why only graphs that are not differentiated use it: the remapper leaves the chain
   * alone when gradients read its intermediates, and {@link #geluTanh}'s sigmoid form is cheaper
   * then.
   */
  static <T extends TNumber> Operand<T> geluTanhFusible(Ops tf, Operand<T> m, Class<T> type) {
    Operand<T> cubic = tf.math.mul(tf.math.mul(scalar(tf, 0.044715f, type), m), tf.math.square(m));
    Operand<T> inner = tf.math.mul(addV2(tf, m, cubic), scalar(tf, (float) SQRT_2_OVER_PI, type));
    return tf.math.mul(tf.math.mul(scalar(tf, 0.5f, type), m),
        addV2(tf, scalar(tf, 1f, type), tf.math.tanh(inner)));
  }

  /** {@code AddV2}, the op the remapper's patterns name (TF Java only wraps the older {@code Add}). */
  private static <T extends TNumber> Operand<T> addV2(Ops tf, Operand<T> x, Operand<T> y) {
    return tf.scope().opBuilder("AddV2", "AddV2").addInput(x.asOutput()).addInput(y.asOutput())
        .build().output(0);
  }

  /** A scalar {@code Const} of {@code type} (the remapper checks pattern constants by value). */
  @SuppressWarnings("unchecked")
  private static <T extends TNumber> Operand<T> scalar(Ops tf, float v, Class<T> type) {
    if (type == TFloat32.class) {
      return (Operand<T>) tf.constant(v);
    }
    if (type == TBfloat16.class) {
      try (TBfloat16 t = TBfloat16.scalarOf(v)) {
        return (Operand<T>) tf.constantOf(t);
      }
    }
    throw new IllegalArgumentException("no scalar constant of " + type.getSimpleName());
  }
}
