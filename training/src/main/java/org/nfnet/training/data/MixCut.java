package org.nfnet.training.data;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * MixUp and CutMix on a whole batch, DeepMind style: each example is mixed with the example at the
 * mirrored position of its (half-)batch ({@code reverse} along the batch axis), with one mixing
 * ratio / one box per (half-)batch; targets are mixed with the same proportion, so target rows keep
 * summing to 1. With both enabled, the first {@code floor(N/2)} examples get MixUp and the rest
 * CutMix.
 */
public final class MixCut {
  private MixCut() {}

  public record Mixed(Operand<TFloat32> images, Operand<TFloat32> targets) {}

  /**
   * @param images [N, H, W, C] float
   * @param targets [N, K] float, rows summing to 1
   */
  static Mixed apply(Ops tf, Operand<TFloat32> images, Operand<TFloat32> targets, Augment aug, Rng rng) {
    if (aug.mixup() && aug.cutmix()) {
      Operand<TInt32> n = tf.gather(tf.shape(images), tf.constant(0), tf.constant(0));
      Operand<TInt32> half = tf.math.div(n, tf.constant(2));
      Operand<TInt32> rest = tf.math.sub(n, half);
      Mixed a = mixup(tf, sliceBatch(tf, images, tf.constant(0), half),
          sliceBatch(tf, targets, tf.constant(0), half), aug.mixupAlpha(), rng.fork(11));
      Mixed b = cutmix(tf, sliceBatch(tf, images, half, rest),
          sliceBatch(tf, targets, half, rest), rng.fork(12));
      return new Mixed(
          tf.concat(List.of(a.images(), b.images()), tf.constant(0)),
          tf.concat(List.of(a.targets(), b.targets()), tf.constant(0)));
    } else if (aug.mixup()) {
      return mixup(tf, images, targets, aug.mixupAlpha(), rng.fork(11));
    } else if (aug.cutmix()) {
      return cutmix(tf, images, targets, rng.fork(12));
    }
    return new Mixed(images, targets);
  }

  /** Public entry point for tests and the trainer: MixUp with ratio ~ Beta(alpha, alpha). */
  public static Mixed mixup(Ops tf, Operand<TFloat32> images, Operand<TFloat32> targets, float alpha,
      long seed) {
    return mixup(tf, images, targets, alpha, new Rng(tf, seed, tf.constant(0L)));
  }

  /** Public entry point for tests and the trainer: CutMix with area ratio ~ U(0, 1). */
  public static Mixed cutmix(Ops tf, Operand<TFloat32> images, Operand<TFloat32> targets, long seed) {
    return cutmix(tf, images, targets, new Rng(tf, seed, tf.constant(0L)));
  }

  static Mixed mixup(Ops tf, Operand<TFloat32> x, Operand<TFloat32> t, float alpha, Rng rng) {
    Operand<TFloat32> r = rng.betaScalar(alpha);
    Operand<TFloat32> s = tf.math.sub(tf.constant(1f), r);
    Operand<TInt32> batchAxis = tf.constant(new int[] {0});
    return new Mixed(
        tf.math.add(tf.math.mul(r, x), tf.math.mul(s, tf.reverse(x, batchAxis))),
        tf.math.add(tf.math.mul(r, t), tf.math.mul(s, tf.reverse(t, batchAxis))));
  }

  static Mixed cutmix(Ops tf, Operand<TFloat32> x, Operand<TFloat32> t, Rng rng) {
    Operand<TInt32> shape = tf.shape(x);
    Operand<TInt32> h = tf.gather(shape, tf.constant(1), tf.constant(0));
    Operand<TInt32> w = tf.gather(shape, tf.constant(2), tf.constant(0));
    Operand<TFloat32> hf = tf.dtypes.cast(h, TFloat32.class);
    Operand<TFloat32> wf = tf.dtypes.cast(w, TFloat32.class);
    Operand<TFloat32> ratio = rng.uniform(new int[0], 0f, 1f);
    Operand<TFloat32> cut = tf.math.sqrt(tf.math.sub(tf.constant(1f), ratio));
    Operand<TInt32> cutH = tf.dtypes.cast(tf.math.mul(hf, cut), TInt32.class);
    Operand<TInt32> cutW = tf.dtypes.cast(tf.math.mul(wf, cut), TInt32.class);
    Operand<TInt32> cy = tf.dtypes.cast(
        tf.math.floor(tf.math.mul(rng.uniform(new int[0], 0f, 1f), hf)), TInt32.class);
    Operand<TInt32> cx = tf.dtypes.cast(
        tf.math.floor(tf.math.mul(rng.uniform(new int[0], 0f, 1f), wf)), TInt32.class);
    Operand<TInt32> two = tf.constant(2);
    Operand<TInt32> zero = tf.constant(0);
    Operand<TInt32> y1 = clip(tf, tf.math.sub(cy, tf.math.div(cutH, two)), zero, h);
    Operand<TInt32> y2 = clip(tf, tf.math.add(cy, tf.math.div(cutH, two)), zero, h);
    Operand<TInt32> x1 = clip(tf, tf.math.sub(cx, tf.math.div(cutW, two)), zero, w);
    Operand<TInt32> x2 = clip(tf, tf.math.add(cx, tf.math.div(cutW, two)), zero, w);
    Operand<TFloat32> rows = inRange(tf, tf.range(zero, h, tf.constant(1)), y1, y2); // [H]
    Operand<TFloat32> cols = inRange(tf, tf.range(zero, w, tf.constant(1)), x1, x2); // [W]
    Operand<TFloat32> mask = tf.math.mul(
        tf.reshape(rows, tf.constant(new int[] {1, -1, 1, 1})),
        tf.reshape(cols, tf.constant(new int[] {1, 1, -1, 1})));
    Operand<TInt32> batchAxis = tf.constant(new int[] {0});
    Operand<TFloat32> mixed = tf.math.add(
        tf.math.mul(x, tf.math.sub(tf.constant(1f), mask)),
        tf.math.mul(tf.reverse(x, batchAxis), mask));
    Operand<TFloat32> area = tf.dtypes.cast(
        tf.math.mul(tf.math.sub(y2, y1), tf.math.sub(x2, x1)), TFloat32.class);
    Operand<TFloat32> keep = tf.math.sub(tf.constant(1f), tf.math.div(area, tf.math.mul(hf, wf)));
    Operand<TFloat32> targets = tf.math.add(
        tf.math.mul(keep, t),
        tf.math.mul(tf.math.sub(tf.constant(1f), keep), tf.reverse(t, batchAxis)));
    return new Mixed(mixed, targets);
  }

  private static Operand<TInt32> clip(Ops tf, Operand<TInt32> v, Operand<TInt32> lo, Operand<TInt32> hi) {
    return tf.math.minimum(tf.math.maximum(v, lo), hi);
  }

  private static Operand<TFloat32> inRange(Ops tf, Operand<TInt32> v, Operand<TInt32> lo, Operand<TInt32> hi) {
    return tf.dtypes.cast(
        tf.math.logicalAnd(tf.math.greaterEqual(v, lo), tf.math.less(v, hi)), TFloat32.class);
  }

  private static <T extends org.tensorflow.types.family.TType> Operand<T> sliceBatch(
      Ops tf, Operand<T> x, Operand<TInt32> start, Operand<TInt32> count) {
    Operand<TInt32> rank = tf.rank(x);
    Operand<TInt32> zeros = tf.fill(tf.expandDims(tf.math.sub(rank, tf.constant(1)), tf.constant(0)),
        tf.constant(0));
    Operand<TInt32> minus = tf.fill(tf.expandDims(tf.math.sub(rank, tf.constant(1)), tf.constant(0)),
        tf.constant(-1));
    return tf.slice(x,
        tf.concat(List.of(tf.reshape(start, tf.constant(new int[] {1})), zeros), tf.constant(0)),
        tf.concat(List.of(tf.reshape(count, tf.constant(new int[] {1})), minus), tf.constant(0)));
  }
}
