package org.nfnet.training.data;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * A learnable synthetic classification task generated entirely in-graph from stateless random
 * ops, for tests and smoke runs without a dataset: each class has a fixed random template image;
 * an example is its class template plus fresh Gaussian noise. Batch {@code k} is a pure function
 * of {@code (seed, k)}, so resumed runs see the same data as uninterrupted ones.
 */
public final class SyntheticInput implements InputSource {
  private final int numClasses;
  private final int batchSize;
  private final int imageSize;
  private final long size;
  private final long seed;
  private final float noise;
  private final boolean evalSplit;

  public SyntheticInput(int numClasses, int batchSize, int imageSize, long size, long seed) {
    this(numClasses, batchSize, imageSize, size, seed, 1.0f, false);
  }

  private SyntheticInput(int numClasses, int batchSize, int imageSize, long size, long seed,
      float noise, boolean evalSplit) {
    this.numClasses = numClasses;
    this.batchSize = batchSize;
    this.imageSize = imageSize;
    this.size = size;
    this.seed = seed;
    this.noise = noise;
    this.evalSplit = evalSplit;
  }

  @Override
  public Batch build(Ops tf, Operand<TInt64> step) {
    Ops s = tf.withSubScope(evalSplit ? "synthetic_eval_input" : "synthetic_input");
    // Eval batches are indexed by their own counter-free key: the step is irrelevant there.
    Operand<TInt64> key = evalSplit ? s.constant(0L) : step;
    Operand<TInt64> batchSeed = s.stack(List.of(s.constant(seed + (evalSplit ? 7919L : 0L)), key));
    Operand<TInt32> labels = s.random.statelessRandomUniformInt(s.constant(new int[] {batchSize}),
        batchSeed, s.constant(0), s.constant(numClasses));
    Operand<TFloat32> templates = s.random.statelessRandomNormal(
        s.constant(new int[] {numClasses, imageSize, imageSize, 3}),
        s.constant(new long[] {seed, -1L}), TFloat32.class);
    Operand<TFloat32> eps = s.random.statelessRandomNormal(
        s.constant(new int[] {batchSize, imageSize, imageSize, 3}),
        s.math.add(batchSeed, s.constant(new long[] {0L, 1L << 40})), TFloat32.class);
    Operand<TFloat32> images = s.math.add(s.gather(templates, labels, s.constant(0)),
        s.math.mul(eps, s.constant(noise)));
    images = s.ensureShape(images, Shape.of(batchSize, imageSize, imageSize, 3));
    return new Batch(images, labels, List.of());
  }

  @Override
  public int numClasses() {
    return numClasses;
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public int batchSize() {
    return batchSize;
  }

  @Override
  public InputSource eval() {
    return evalSplit ? null
        : new SyntheticInput(numClasses, batchSize, imageSize, Math.max(batchSize, size / 10), seed,
            noise, true);
  }
}
