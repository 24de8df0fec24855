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
   * @param labels int32 [N] class indices
   * @param initializers ops to run before the first batch (e.g. iterator init); re-running them
   *     restarts the stream, which is how an eval pass begins
   */
  record Batch(Operand<TFloat32> images, Operand<TInt32> labels, List<Op> initializers) {}

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

  /** The held-out counterpart (no augmentation, eval size), or null when there is none. */
  default InputSource eval() {
    return null;
  }
}
