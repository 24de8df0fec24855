package org.nfnet.training;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Softmax cross-entropy against label-smoothed targets, averaged over the batch, as DeepMind's
 * experiment: {@code target = onehot * (1 - s) + s / K}. Smoothing (0.1) stops the logits from
 * growing without bound to fit hard one-hot targets, which regularises and calibrates.
 *
 * <p>Why not TF Java's framework {@code Losses.categoricalCrossentropy(tf, labels, logits, true,
 * smoothing, -1)} (tensorflow-framework 1.1.0): it computes the loss with the fused
 * {@code SoftmaxCrossEntropyWithLogits} kernel and smooths in float32
 * ({@code labels * (1 - s) + s / K}), while DeepMind's step is
 * {@code -sum(targets * log_softmax(logits))} with targets built as here. The fused kernel rounds
 * differently, moving the loss and every gradient at the float32 rounding level (a run resumed
 * with a newer version would no longer continue bit-identically), and it would add the framework
 * jar for these three lines.
 */
public final class LabelSmoothingLoss {
  private LabelSmoothingLoss() {}

  /** Smoothed targets [N, K] for int labels [N]. */
  public static Operand<TFloat32> targets(Ops tf, Operand<TInt32> labels, int numClasses,
      double smoothing) {
    return tf.oneHot(labels, tf.constant(numClasses),
        tf.constant((float) (1.0 - smoothing + smoothing / numClasses)),
        tf.constant((float) (smoothing / numClasses)));
  }

  /** Same for targets already given as distributions (e.g. CutMix/MixUp soft labels). */
  public static Operand<TFloat32> smooth(Ops tf, Operand<TFloat32> distribution, int numClasses,
      double smoothing) {
    return tf.math.add(tf.math.mul(distribution, tf.constant((float) (1.0 - smoothing))),
        tf.constant((float) (smoothing / numClasses)));
  }

  /** Mean over the batch of {@code -sum_k target_k * log_softmax(logits)_k}. */
  public static Operand<TFloat32> loss(Ops tf, Operand<TFloat32> logits, Operand<TFloat32> targets) {
    Operand<TFloat32> logp = tf.nn.logSoftmax(logits);
    Operand<TFloat32> perExample = tf.math.neg(tf.reduceSum(tf.math.mul(targets, logp),
        tf.constant(1)));
    return tf.math.mean(perExample, tf.constant(0));
  }

  public static Operand<TFloat32> loss(Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels,
      int numClasses, double smoothing) {
    return loss(tf, logits, targets(tf, labels, numClasses, smoothing));
  }
}
