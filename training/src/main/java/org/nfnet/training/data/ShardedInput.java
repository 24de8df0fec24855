package org.nfnet.training.data;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt64;

/**
 * Rows {@code [index * b / count, (index + 1) * b / count)} of every batch of another source
 * (the default {@link InputSource#shard}).
 */
final class ShardedInput implements InputSource {
  private final InputSource inner;
  private final int index;
  private final int count;

  ShardedInput(InputSource inner, int index, int count) {
    checkShard(inner.batchSize(), index, count);
    this.inner = inner;
    this.index = index;
    this.count = count;
  }

  static void checkShard(int batch, int index, int count) {
    if (count < 1 || index < 0 || index >= count) {
      throw new IllegalArgumentException("shard " + index + " of " + count);
    }
    if (batch % count != 0) {
      throw new IllegalArgumentException("the global batch " + batch
          + " is not divisible by the number of replicas " + count);
    }
  }

  @Override
  public Batch build(Ops tf, Operand<TInt64> step) {
    Batch b = inner.build(tf, step);
    Batch part = b.rows(tf.withSubScope("shard"), index, count);
    return new Batch(part.images(), part.labels(), part.targets(), b.initializers());
  }

  @Override
  public int numClasses() {
    return inner.numClasses();
  }

  @Override
  public long size() {
    return inner.size();
  }

  @Override
  public int batchSize() {
    return inner.batchSize() / count;
  }

  @Override
  public InputSource startingAt(long step) {
    return new ShardedInput(inner.startingAt(step), index, count);
  }

  @Override
  public InputSource eval() {
    return inner.eval();
  }
}
