package org.nfnet.training;

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
    int per = inner.batchSize() / count;
    Ops s = tf.withSubScope("shard");
    return new Batch(rows(s, b.images(), per), rows(s, b.labels(), per),
        b.targets() == null ? null : rows(s, b.targets(), per), b.initializers());
  }

  private <T extends org.tensorflow.types.family.TType> Operand<T> rows(Ops tf, Operand<T> x,
      int per) {
    int rank = x.shape().numDimensions();
    if (rank < 1) {
      throw new IllegalArgumentException("cannot shard a tensor of unknown rank");
    }
    int[] begin = new int[rank];
    int[] size = new int[rank];
    java.util.Arrays.fill(size, -1);
    begin[0] = index * per;
    size[0] = per;
    return tf.slice(x, tf.constant(begin), tf.constant(size));
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
