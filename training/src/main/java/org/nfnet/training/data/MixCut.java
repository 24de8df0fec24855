package org.nfnet.training.data;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TType;

/**
 * MixUp and CutMix on batches, as in DeepMind's NFNet input pipeline: the pipeline draws twice the
 * batch, and each output example mixes two distinct input examples (first half with second half).
 * Ratios are drawn per example: MixUp ratio ~ Beta(alpha, alpha); CutMix pastes a box whose side
 * ratio is sqrt(1 - u), u ~ U(0, 1), centred at a uniform random pixel and clipped to the image. The
 * targets get the same proportions (for CutMix the exact pasted area), so every target row sums to
 * 1. With both enabled, {@code floor(B/2)} output examples use MixUp and the rest CutMix.
 */
public final class MixCut {
  private MixCut() {}

  public record Mixed(Operand<TFloat32> images, Operand<TFloat32> targets) {}

  /** Inputs needed per output example: 2 when MixUp or CutMix is on, else 1. */
  static int inputFactor(Augment aug) {
    return aug.mixup() || aug.cutmix() ? 2 : 1;
  }

  /**
   * @param images [2B, H, W, C] float
   * @param targets [2B, K] float, rows summing to 1
   * @param outSize B, the number of mixed examples returned
   */
  static Mixed apply(Ops tf, Operand<TFloat32> images, Operand<TFloat32> targets, int outSize,
      Augment aug, Rng rng) {
    if (aug.mixup() && aug.cutmix()) {
      int m = outSize / 2;
      int c = outSize - m;
      Mixed a = mixup(tf, rows(tf, images, 0, m), rows(tf, targets, 0, m),
          rows(tf, images, m, m), rows(tf, targets, m, m), aug.mixupAlpha(), rng.fork(11));
      Mixed b = cutmix(tf, rows(tf, images, 2 * m, c), rows(tf, targets, 2 * m, c),
          rows(tf, images, 2 * m + c, c), rows(tf, targets, 2 * m + c, c), rng.fork(12));
      return new Mixed(
          tf.concat(List.of(a.images(), b.images()), tf.constant(0)),
          tf.concat(List.of(a.targets(), b.targets()), tf.constant(0)));
    }
    Operand<TFloat32> x1 = rows(tf, images, 0, outSize), x2 = rows(tf, images, outSize, outSize);
    Operand<TFloat32> t1 = rows(tf, targets, 0, outSize), t2 = rows(tf, targets, outSize, outSize);
    if (aug.mixup()) return mixup(tf, x1, t1, x2, t2, aug.mixupAlpha(), rng.fork(11));
    if (aug.cutmix()) return cutmix(tf, x1, t1, x2, t2, rng.fork(12));
    return new Mixed(images, targets);
  }

  /** MixUp of the first half of a batch [2B, ...] with its second half: B examples. */
  public static Mixed mixup(Ops tf, Operand<TFloat32> images, Operand<TFloat32> targets, float alpha,
      long seed) {
    int b = (int) images.shape().get(0) / 2;
    return mixup(tf, rows(tf, images, 0, b), rows(tf, targets, 0, b), rows(tf, images, b, b),
        rows(tf, targets, b, b), alpha, new Rng(tf, seed, tf.constant(0L)));
  }

  /** CutMix of the first half of a batch [2B, ...] with its second half: B examples. */
  public static Mixed cutmix(Ops tf, Operand<TFloat32> images, Operand<TFloat32> targets, long seed) {
    int b = (int) images.shape().get(0) / 2;
    return cutmix(tf, rows(tf, images, 0, b), rows(tf, targets, 0, b), rows(tf, images, b, b),
        rows(tf, targets, b, b), new Rng(tf, seed, tf.constant(0L)));
  }

  static Mixed mixup(Ops tf, Operand<TFloat32> x1, Operand<TFloat32> t1, Operand<TFloat32> x2,
      Operand<TFloat32> t2, float alpha, Rng rng) {
    Operand<TInt32> n1 = tf.slice(tf.shape(x1), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    Operand<TFloat32> r = rng.beta(n1, alpha); // [B]
    Operand<TFloat32> r4 = tf.reshape(r, tf.constant(new int[] {-1, 1, 1, 1}));
    Operand<TFloat32> r2 = tf.reshape(r, tf.constant(new int[] {-1, 1}));
    return new Mixed(lerp(tf, r4, x1, x2), lerp(tf, r2, t1, t2));
  }

  static Mixed cutmix(Ops tf, Operand<TFloat32> x1, Operand<TFloat32> t1, Operand<TFloat32> x2,
      Operand<TFloat32> t2, Rng rng) {
    Operand<TInt32> shape = tf.shape(x1);
    Operand<TInt32> n1 = tf.slice(shape, tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    Operand<TInt32> h = tf.gather(shape, tf.constant(1), tf.constant(0));
    Operand<TInt32> w = tf.gather(shape, tf.constant(2), tf.constant(0));
    Operand<TFloat32> hf = tf.dtypes.cast(h, TFloat32.class);
    Operand<TFloat32> wf = tf.dtypes.cast(w, TFloat32.class);
    Operand<TInt32> cy = tf.dtypes.cast(tf.math.floor(tf.math.mul(rng.uniform(n1, 0f, 1f), hf)), TInt32.class);
    Operand<TInt32> cx = tf.dtypes.cast(tf.math.floor(tf.math.mul(rng.uniform(n1, 0f, 1f), wf)), TInt32.class);
    Operand<TFloat32> side = tf.math.sqrt(tf.math.sub(tf.constant(1f), rng.uniform(n1, 0f, 1f)));
    Operand<TInt32> halfH = tf.math.div(tf.dtypes.cast(tf.math.mul(side, hf), TInt32.class), tf.constant(2));
    Operand<TInt32> halfW = tf.math.div(tf.dtypes.cast(tf.math.mul(side, wf), TInt32.class), tf.constant(2));
    Operand<TInt32> zero = tf.constant(0);
    Operand<TInt32> y1 = clip(tf, tf.math.sub(cy, halfH), zero, h);
    Operand<TInt32> y2 = clip(tf, tf.math.add(cy, halfH), zero, h);
    Operand<TInt32> xa = clip(tf, tf.math.sub(cx, halfW), zero, w);
    Operand<TInt32> xb = clip(tf, tf.math.add(cx, halfW), zero, w);
    Operand<TFloat32> rowsIn = band(tf, tf.range(zero, h, tf.constant(1)), y1, y2); // [B, H]
    Operand<TFloat32> colsIn = band(tf, tf.range(zero, w, tf.constant(1)), xa, xb); // [B, W]
    Operand<TFloat32> mask = tf.math.mul(
        tf.expandDims(tf.expandDims(rowsIn, tf.constant(2)), tf.constant(3)),
        tf.expandDims(tf.expandDims(colsIn, tf.constant(1)), tf.constant(3))); // [B, H, W, 1]
    // the box keeps image 1 (DeepMind's convention); the ratio is its exact area fraction
    Operand<TFloat32> ratio = tf.math.div(tf.dtypes.cast(
        tf.math.mul(tf.math.sub(y2, y1), tf.math.sub(xb, xa)), TFloat32.class), tf.math.mul(hf, wf));
    return new Mixed(lerp(tf, mask, x1, x2),
        lerp(tf, tf.reshape(ratio, tf.constant(new int[] {-1, 1})), t1, t2));
  }

  /** r * a + (1 - r) * b. */
  private static Operand<TFloat32> lerp(Ops tf, Operand<TFloat32> r, Operand<TFloat32> a,
      Operand<TFloat32> b) {
    return tf.math.add(b, tf.math.mul(r, tf.math.sub(a, b)));
  }

  private static Operand<TInt32> clip(Ops tf, Operand<TInt32> v, Operand<TInt32> lo, Operand<TInt32> hi) {
    return tf.math.minimum(tf.math.maximum(v, lo), hi);
  }

  /** [B, L]: 1 where {@code lo_b <= v < hi_b}. */
  private static Operand<TFloat32> band(Ops tf, Operand<TInt32> v, Operand<TInt32> lo, Operand<TInt32> hi) {
    Operand<TInt32> vv = tf.expandDims(v, tf.constant(0));
    return tf.dtypes.cast(tf.math.logicalAnd(
        tf.math.greaterEqual(vv, tf.expandDims(lo, tf.constant(1))),
        tf.math.less(vv, tf.expandDims(hi, tf.constant(1)))), TFloat32.class);
  }

  /** Rows [start, start + count) along the first axis, with a static first dimension. */
  static <T extends TType> Operand<T> rows(Ops tf, Operand<T> x, int start, int count) {
    int rank = x.shape().numDimensions();
    int[] begin = new int[rank];
    int[] size = new int[rank];
    java.util.Arrays.fill(size, -1);
    begin[0] = start;
    size[0] = count;
    return tf.slice(x, tf.constant(begin), tf.constant(size));
  }
}
