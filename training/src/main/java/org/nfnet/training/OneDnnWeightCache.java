package org.nfnet.training;

import java.util.Locale;
import java.util.Map;

/**
 * TensorFlow's {@code TF_ONEDNN_ASSUME_FROZEN_WEIGHTS}, which training must not run under.
 *
 * <p>With it set, every oneDNN convolution and matrix product of the process treats its weight
 * input as a constant: it reorders the weights into its blocked layout on its first call and reuses
 * that copy on every later call. For a process that only serves a variables export, this is the
 * speed of a frozen export for one extra copy of the weights (BENCHMARKS.md, round 6); the
 * {@code nfnet} launcher sets it for {@code logits}, {@code predict} and {@code serve}. In a
 * training process, the forward pass would keep computing with the weights of its first step and
 * never see an update, without any error. So a training step refuses to start under it.
 *
 * <p>TensorFlow reads the variable once per process, accepts {@code 0}, {@code 1}, {@code true}
 * and {@code false} (any case), and aborts the whole process on any other value the first time a
 * oneDNN kernel is built; such a value is refused here too, with the reason.
 */
public final class OneDnnWeightCache {
  /** The environment variable TensorFlow reads. */
  public static final String VARIABLE = "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS";

  private OneDnnWeightCache() {}

  /** Whether {@code env} turns the cache on; an unset variable leaves it off. */
  public static boolean on(Map<String, String> env) {
    String v = env.get(VARIABLE);
    if (v == null) {
      return false;
    }
    return switch (v.toLowerCase(Locale.ROOT)) {
      case "1", "true" -> true;
      case "0", "false" -> false;
      default -> throw new IllegalArgumentException(String.format(Locale.ROOT,
          "%s=\"%s\": TensorFlow accepts only 0, 1, true or false there and aborts the process on "
              + "any other value; unset it or set it to 0", VARIABLE, v));
    };
  }

  /** Throws, saying why and what to do, when {@code env} would freeze a training step's weights. */
  public static void refuseForTraining(Map<String, String> env) {
    if (on(env)) {
      throw new IllegalArgumentException(String.format(Locale.ROOT,
          "%s=%s is set: TensorFlow's oneDNN kernels would keep the weights of the first step and "
              + "the training would never see its own updates. It is for processes that only run "
              + "inference; unset it (or set it to 0) for training", VARIABLE, env.get(VARIABLE)));
    }
  }
}
