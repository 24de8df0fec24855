package org.nfnet.training.data;

import org.nfnet.zoo.NFNetConfig;

/**
 * Pipeline settings of a data set (fixed when it is opened; see {@link InputSource}).
 *
 * @param trainSize output side length of training batches
 * @param evalSize output side length of evaluation batches ({@link InputSource#eval()})
 * @param augment training-only augmentations (ignored for evaluation)
 * @param shuffleBuffer examples in the shuffle buffer (training)
 * @param parallelCalls parallelism of per-example map functions (decode/crop)
 * @param prefetch batches prefetched at the end of the pipeline
 */
public record DataOptions(
    int trainSize, int evalSize, Augment augment, int shuffleBuffer, int parallelCalls, int prefetch) {

  public DataOptions {
    if (trainSize <= 0 || evalSize <= 0) throw new IllegalArgumentException("image sizes must be > 0");
    if (augment == null) augment = Augment.NONE;
    if (shuffleBuffer < 1 || parallelCalls < 1 || prefetch < 0) {
      throw new IllegalArgumentException("bad pipeline sizes");
    }
  }

  /** Same size for training and evaluation, no augmentation, default buffers. */
  public static DataOptions of(int size) {
    return of(size, size);
  }

  public static DataOptions of(int trainSize, int evalSize) {
    return new DataOptions(
        trainSize, evalSize, Augment.NONE, 10_000,
        Math.max(1, Runtime.getRuntime().availableProcessors()), 2);
  }

  /**
   * The variant's train/test image sizes and DeepMind's augmentation (RandAugment at the variant's
   * {@code raLevel}, MixUp on one half and CutMix on the other half of each batch).
   */
  public static DataOptions forConfig(NFNetConfig config) {
    return of(config.trainImsize(), config.testImsize())
        .withAugment(Augment.deepMind(config.raLevel()));
  }

  public DataOptions withAugment(Augment a) {
    return new DataOptions(trainSize, evalSize, a, shuffleBuffer, parallelCalls, prefetch);
  }

  public DataOptions withShuffleBuffer(int n) {
    return new DataOptions(trainSize, evalSize, augment, n, parallelCalls, prefetch);
  }

  public DataOptions withParallelCalls(int n) {
    return new DataOptions(trainSize, evalSize, augment, shuffleBuffer, n, prefetch);
  }

  public DataOptions withPrefetch(int n) {
    return new DataOptions(trainSize, evalSize, augment, shuffleBuffer, parallelCalls, n);
  }
}
