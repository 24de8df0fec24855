package org.nfnet.training.data;

import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TType;

/**
 * The tensors of one input step, produced in-graph (typically from one {@code IteratorGetNext}
 * plus in-graph augmentation), so fetching any subset of them in one {@code Session.run} advances
 * the input by exactly one batch and a training step needs no host feeding.
 *
 * @param images [N, H, W, 3] float32, normalised (DeepMind's ImageNet mean/std), at the model's
 *     train (or eval) size
 * @param labels [N] int32 class indices (after MixUp/CutMix: the class with the largest weight)
 * @param targets [N, K] float32 target distributions (MixUp/CutMix soft labels; rows sum to 1), or
 *     null for one-hot {@code labels}; label smoothing is applied on top by the trainer
 * @param initializers ops to run before the first batch (e.g. the iterator's {@code MakeIterator});
 *     re-running them restarts the stream, which is how an eval pass begins
 */
public record Batch(Operand<TFloat32> images, Operand<TInt32> labels, Operand<TFloat32> targets,
    List<Op> initializers) {

  public Batch {
    initializers = List.copyOf(initializers);
  }

  /** One-hot targets. */
  public Batch(Operand<TFloat32> images, Operand<TInt32> labels, List<Op> initializers) {
    this(images, labels, null, initializers);
  }

  /**
   * Rows {@code [d * N / n, (d + 1) * N / n)} of every tensor (part {@code d} of {@code n}, for a
   * replica), sliced in {@code tf}; {@code N} must be divisible by {@code n}. The initializers are
   * not repeated in the part.
   */
  public Batch rows(Ops tf, int d, int n) {
    return new Batch(rows(tf, images, d, n), rows(tf, labels, d, n),
        targets == null ? null : rows(tf, targets, d, n), List.of());
  }

  private static <T extends TType> Operand<T> rows(Ops tf, Operand<T> x, int d, int n) {
    if (x.shape().isUnknown() || x.shape().get(0) < 0) {
      // Unknown static batch: split dynamically.
      return tf.split(tf.constant(0), x, (long) n).output().get(d);
    }
    long rows = x.shape().get(0);
    int rank = x.shape().numDimensions();
    int[] begin = new int[rank];
    int[] size = new int[rank];
    Arrays.fill(size, -1);
    begin[0] = (int) (d * rows / n);
    size[0] = (int) (rows / n);
    return tf.slice(x, tf.constant(begin), tf.constant(size));
  }
}
