package org.nfnet.training.data;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt64;

/**
 * A file-backed data set's training split at a batch size and seed, with its test split as
 * {@link #eval()}: what {@link FashionMnist#input} and {@link ImageFolder#input} return.
 */
final class SplitInput implements InputSource {
  private final Split train;
  private final Split test;
  private final int batchSize;
  private final long seed;
  private final long startStep;
  private final boolean training;

  /**
   * @param train the training split
   * @param test the evaluation split, or null
   */
  SplitInput(Split train, Split test, int batchSize, long seed) {
    this(train, test, batchSize, seed, 0L, true);
  }

  private SplitInput(Split train, Split test, int batchSize, long seed, long startStep,
      boolean training) {
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    }
    this.train = train;
    this.test = test;
    this.batchSize = batchSize;
    this.seed = seed;
    this.startStep = startStep;
    this.training = training;
  }

  @Override
  public Batch build(Ops tf, Operand<TInt64> step) {
    Batch b = train.build(tf, batchSize, training, seed, training ? startStep : 0L);
    return training ? b : new Batch(b.images(), b.labels(), b.initializers());
  }

  @Override
  public InputSource startingAt(long step) {
    return new SplitInput(train, test, batchSize, seed, step, training);
  }

  /**
   * Worker {@code index} of {@code count}: batches of {@code batchSize / count} from its own
   * shuffle and augmentation stream (seed offset by the worker index; worker 0 keeps the seed),
   * so workers read different examples of every global batch; evaluation stays unsharded.
   */
  @Override
  public InputSource shard(int index, int count) {
    if (count == 1) {
      return this;
    }
    ShardedInput.checkShard(batchSize, index, count);
    long s = seed + index * 0x9E3779B97F4A7C15L;
    return new SplitInput(train, test, batchSize / count, s, startStep, training);
  }

  @Override
  public int numClasses() {
    return train.numClasses();
  }

  @Override
  public long size() {
    return train.size();
  }

  @Override
  public int batchSize() {
    return batchSize;
  }

  @Override
  public InputSource eval() {
    return training && test != null ? new SplitInput(test, null, batchSize, seed, 0L, false)
        : null;
  }
}
