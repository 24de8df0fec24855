package org.nfnet.training;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The contract between the training loop and an input pipeline (implemented by the data package,
 * e.g. Fashion-MNIST or image folders, and by {@link SyntheticInput} for tests).
 *
 * <p>Batches are produced <em>in-graph</em> (typically a TF data iterator's {@code getNext}) so a
 * training step is a single {@code Session.run} with no host feeding.
 */
public interface InputSource {
  /**
   * One batch per {@code Session.run}.
   *
   * @param images float32 [N, H, W, 3], already normalised, at the model's train (or eval) size
   * @param labels int32 [N] class indices (top-1 / top-5)
   * @param targets float32 [N, K] target distributions (MixUp/CutMix soft labels), or null for
   *     one-hot {@code labels}; label smoothing is applied on top by the trainer
   * @param initializers ops to run before the first batch (e.g. iterator init); re-running them
   *     restarts the stream, which is how an eval pass begins
   */
  record Batch(Operand<TFloat32> images, Operand<TInt32> labels, Operand<TFloat32> targets,
      List<Op> initializers) {

    public Batch(Operand<TFloat32> images, Operand<TInt32> labels, List<Op> initializers) {
      this(images, labels, null, initializers);
    }
  }

  /**
   * Adds the input ops to the graph. Called once per graph.
   *
   * @param tf ops in the scope the input should live in
   * @param step the global step (int64 scalar) before this update; sources without their own
   *     state (synthetic, stateless augmentation) may key their randomness on it so that a resumed
   *     run sees exactly the batches an uninterrupted run would
   */
  Batch build(Ops tf, Operand<TInt64> step);

  int numClasses();

  /** Examples per epoch (drives the warm-up length and epoch counting). */
  long size();

  /** Examples per batch. */
  int batchSize();

  /**
   * The same stream resumed at global step {@code step} (the trainer calls this with the
   * checkpoint's step before building the graph). Stateless sources return themselves.
   */
  default InputSource startingAt(long step) {
    return this;
  }

  /**
   * Part {@code index} of {@code count} of every batch, for data parallelism: replica (worker)
   * {@code index} reads this, the replicas together read the global batch of
   * {@link #batchSize()} examples. The default slices rows {@code [index * b / count, (index + 1)
   * * b / count)} out of the whole batch built in-graph (correct for any source, but each replica
   * produces the whole batch); sources override it to produce only their part. {@link #eval()} of
   * the result is the unsharded evaluation split.
   */
  default InputSource shard(int index, int count) {
    if (count == 1) {
      return this;
    }
    return new ShardedInput(this, index, count);
  }

  /** The held-out counterpart (no augmentation, eval size), or null when there is none. */
  default InputSource eval() {
    return null;
  }
}
