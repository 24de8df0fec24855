package org.nfnet.training.data;

import java.util.List;
import org.tensorflow.op.Ops;

/**
 * One split (train or test) of one data source, ready to be turned into an in-graph input pipeline
 * at any batch size; the trainer reads it as an {@code InputSource} through {@code DatasetInput},
 * which fixes batch size, seed and position. Both produce the same {@link Batch}.
 *
 * <p>Image size and augmentation settings are fixed when the dataset is created (see {@link
 * DataOptions} and the factories {@link FashionMnist} / {@link ImageFolder}), so that {@link
 * #build} keeps the small signature the trainer codes against.
 */
public interface Dataset {
  int numClasses();

  /** Examples in this split (after skipping bad ones, when known). */
  long size();

  List<String> classNames();

  /**
   * Builds the in-graph pipeline. Run {@link Batch#initializers()} once before the first
   * step; afterwards each {@code Session.run} that fetches the batch's tensors yields the next batch.
   *
   * @param training true: shuffle, repeat forever, random augmentation, batches of exactly {@code
   *     batchSize} (with MixUp/CutMix each step consumes {@code 2 * batchSize} examples); false: one
   *     deterministic pass in file order (the last batch may be smaller; then {@code
   *     TFOutOfRangeException}), eval preprocessing.
   * @param seed seed for shuffling and all random augmentation ops (same seed, same batches).
   */
  default Batch build(Ops tf, int batchSize, boolean training, long seed) {
    return build(tf, batchSize, training, seed, 0);
  }

  /**
   * As {@link #build(Ops, int, boolean, long)}, resuming a training stream: the returned pipeline
   * yields exactly the batches number {@code startStep, startStep + 1, ...} of the stream that
   * {@code startStep = 0} would give with the same seed (cheaply: the skipped examples are not
   * decoded or augmented). Use it to continue a run from a checkpoint. Ignored for evaluation.
   */
  Batch build(Ops tf, int batchSize, boolean training, long seed, long startStep);
}
