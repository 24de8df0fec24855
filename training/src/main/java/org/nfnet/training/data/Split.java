package org.nfnet.training.data;

import org.tensorflow.op.Ops;

/**
 * One split (train or test) of a file-backed data set ({@link FashionMnist}, {@link ImageFolder})
 * as an in-graph pipeline at any batch size: the detail behind {@link SplitInput}, which fixes
 * batch size, seed and position and is what callers see (as an {@link InputSource}).
 *
 * <p>An abstract class rather than an interface so that {@link #build} stays package-private.
 * Image size and augmentation are fixed when the split is created (see {@link DataOptions}).
 */
abstract class Split {
  abstract int numClasses();

  /** Examples in this split (after skipping bad ones, when known). */
  abstract long size();

  /**
   * Builds the in-graph pipeline. Run {@link Batch#initializers()} once before the first
   * step; afterwards each {@code Session.run} that fetches the batch's tensors yields the next batch.
   *
   * @param training true: shuffle, repeat forever, random augmentation, batches of exactly {@code
   *     batchSize} (with MixUp/CutMix each step consumes {@code 2 * batchSize} examples); false: one
   *     deterministic pass in file order (the last batch may be smaller; then {@code
   *     TFOutOfRangeException}), eval preprocessing.
   * @param seed seed for shuffling and all random augmentation ops (same seed, same batches).
   * @param startStep training: the pipeline yields exactly the batches number {@code startStep,
   *     startStep + 1, ...} of the stream that {@code startStep = 0} would give with the same seed
   *     (cheaply: the skipped examples are not decoded or augmented). Ignored for evaluation.
   */
  abstract Batch build(Ops tf, int batchSize, boolean training, long seed, long startStep);

  final Batch build(Ops tf, int batchSize, boolean training, long seed) {
    return build(tf, batchSize, training, seed, 0);
  }
}
