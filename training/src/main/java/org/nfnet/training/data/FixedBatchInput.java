package org.nfnet.training.data;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The same batch every step, baked into the graph as constants: for parity checks against a
 * reference step and for "can it overfit one batch" smoke tests. Keep it small (GraphDef limit).
 */
public final class FixedBatchInput implements InputSource {
  private final float[] images;
  private final int[] labels;
  private final int height;
  private final int width;
  private final int numClasses;

  /** @param images NHWC float32, already normalised, {@code labels.length} examples */
  public FixedBatchInput(float[] images, int[] labels, int height, int width, int numClasses) {
    if (images.length != (long) labels.length * height * width * 3) {
      throw new IllegalArgumentException("images hold " + images.length + " floats, expected "
          + labels.length + "x" + height + "x" + width + "x3");
    }
    this.images = images.clone();
    this.labels = labels.clone();
    this.height = height;
    this.width = width;
    this.numClasses = numClasses;
  }

  @Override
  public Batch build(Ops tf, Operand<TInt64> step) {
    Operand<TFloat32> x = tf.withName("images").constant(
        Shape.of(labels.length, height, width, 3), DataBuffers.of(images, true, false));
    Operand<TInt32> y = tf.withName("labels").constant(labels);
    return new Batch(x, y, List.of());
  }

  @Override
  public int numClasses() {
    return numClasses;
  }

  @Override
  public long size() {
    return labels.length;
  }

  @Override
  public int batchSize() {
    return labels.length;
  }

  /** Rows {@code [index * b / count, (index + 1) * b / count)} as a fixed batch of their own. */
  @Override
  public InputSource shard(int index, int count) {
    if (count == 1) {
      return this;
    }
    ShardedInput.checkShard(labels.length, index, count);
    int per = labels.length / count;
    int px = height * width * 3;
    float[] im = java.util.Arrays.copyOfRange(images, index * per * px, (index + 1) * per * px);
    int[] lb = java.util.Arrays.copyOfRange(labels, index * per, (index + 1) * per);
    return new FixedBatchInput(im, lb, height, width, numClasses);
  }

  @Override
  public InputSource eval() {
    return this;
  }
}
