package org.nfnet.training.data;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Batches fed by the caller: float32 images {@code [batch, size, size, 3]} (normalised) and int32
 * labels {@code [batch]} as placeholders, the input of an exported {@code train_step} signature.
 */
public final class FedInput implements InputSource {
  private final int numClasses;
  private final int batchSize;
  private final int imageSize;
  private Placeholder<TFloat32> images;
  private Placeholder<TInt32> labels;

  public FedInput(int numClasses, int batchSize, int imageSize) {
    this.numClasses = numClasses;
    this.batchSize = batchSize;
    this.imageSize = imageSize;
  }

  @Override
  public Batch build(Ops tf, Operand<TInt64> step) {
    if (images != null) {
      throw new IllegalStateException("a FedInput feeds one graph");
    }
    images = tf.withName("images").placeholder(TFloat32.class,
        Placeholder.shape(Shape.of(batchSize, imageSize, imageSize, 3)));
    labels = tf.withName("labels").placeholder(TInt32.class,
        Placeholder.shape(Shape.of(batchSize)));
    return new Batch(images, labels, List.of());
  }

  /** The images placeholder (after the step is built). */
  public Placeholder<TFloat32> images() {
    return images;
  }

  /** The labels placeholder (after the step is built). */
  public Placeholder<TInt32> labels() {
    return labels;
  }

  @Override
  public int numClasses() {
    return numClasses;
  }

  @Override
  public long size() {
    return Long.MAX_VALUE;
  }

  @Override
  public int batchSize() {
    return batchSize;
  }
}
