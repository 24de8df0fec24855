package org.nfnet.training.data;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt64;

/**
 * The one input abstraction of training and evaluation: a stream of {@link Batch}es of a fixed
 * size, with its position (resume), its part for a replica (data parallelism) and its held-out
 * split. Where they come from:
 *
 * <ul>
 *   <li>{@link FashionMnist#input} and {@link ImageFolder#input}: file-backed data (shuffled,
 *       augmented with RandAugment/MixUp/CutMix per {@link DataOptions}) with its test split as
 *       {@link #eval()};
 *   <li>{@link SyntheticInput}: a learnable task generated in-graph, for smoke runs;
 *   <li>{@link FixedBatchInput}: one constant batch, for parity checks;
 *   <li>{@code resource.FedInput}: placeholders fed by the caller (an exported train step).
 * </ul>
 *
 * <p>Batches are produced <em>in-graph</em> (typically a TF data iterator's {@code getNext}) so a
 * training step is a single {@code Session.run} with no host feeding.
 */
public interface InputSource {
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
