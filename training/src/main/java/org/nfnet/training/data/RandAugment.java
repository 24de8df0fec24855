package org.nfnet.training.data;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.image.ImageProjectiveTransformV3;
import org.tensorflow.op.math.Cumsum;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * RandAugment (Cubuk et al. 2019) in the graph, vectorised over the batch, with the op list and
 * magnitude mapping of the TPU/DeepMind {@code autoaugment.py} that NFNets use.
 *
 * <p>For each of {@code layers} rounds, every image independently draws one of the 16 ops below
 * uniformly and applies it with probability {@code p ~ U(0.2, 0.8)} (also drawn per image).
 * Magnitudes are the fixed level {@code m} on DeepMind's 0..10 scale, geometric ops get a random
 * sign. Included ops (all of the original list): AutoContrast, Equalize, Invert, Rotate (m/10*30
 * degrees), Posterize (int(m/10*4) bits kept), Solarize (threshold m/10*256), Color, Contrast,
 * Brightness, Sharpness (factor m/10*1.8+0.1), ShearX/ShearY (m/10*0.3), TranslateX/TranslateY
 * (m/10*100 px at 224 px, scaled to the image size), Cutout (square of side 2*m/10*40 px at 224,
 * scaled), SolarizeAdd (+m/10*110 below 128). Geometric ops use {@code
 * ImageProjectiveTransformV3} (bilinear, fill 128). Each round partitions the batch by chosen op
 * ({@code DynamicPartition}), applies each op to its own images only and stitches the batch back
 * ({@code DynamicStitch}).
 *
 * <p>Input and output: float [N, H, W, 3] in 0..255.
 */
public final class RandAugment {
  public static final List<String> OPS = List.of(
      "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "Color", "Contrast",
      "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout",
      "SolarizeAdd");

  private RandAugment() {}

  /** Parses DeepMind's level string: first digit = layers, the rest = magnitude ("405" -> {4, 5}). */
  public static int[] parseLevel(String level) {
    if (level == null || !level.matches("\\d{2,3}")) {
      throw new IllegalArgumentException("RandAugment level must look like '405', got " + level);
    }
    int layers = level.charAt(0) - '0';
    int magnitude = Integer.parseInt(level.substring(1));
    if (magnitude > 30) throw new IllegalArgumentException("magnitude too large: " + level);
    return new int[] {layers, magnitude};
  }

  /** Applies RandAugment with a fixed seed (public entry point for tests and the trainer). */
  public static Operand<TFloat32> apply(Ops tf, Operand<TFloat32> images, String level, long seed) {
    return apply(tf, images, level, new Rng(tf, seed, tf.constant(0L)));
  }

  static Operand<TFloat32> apply(Ops tf, Operand<TFloat32> images, String level, Rng rng) {
    int[] lm = parseLevel(level);
    Operand<TFloat32> x = images;
    for (int layer = 0; layer < lm[0]; layer++) {
      x = layer(tf, x, lm[1], rng.fork(100 + layer), -1);
    }
    return tf.ensureShape(x, images.shape());
  }

  /** Applies op {@code OPS.get(op)} to every image (for tests and visual checks). */
  static Operand<TFloat32> applyOp(Ops tf, Operand<TFloat32> images, int op, int magnitude, long seed) {
    return tf.ensureShape(layer(tf, images, magnitude, new Rng(tf, seed, tf.constant(0L)), op),
        images.shape());
  }

  /**
   * One RandAugment round; {@code forcedOp >= 0} applies that op to every image. The batch is split
   * with {@code DynamicPartition} by chosen op (partition 0: images left unchanged), each op runs
   * only on its own images, and {@code DynamicStitch} puts the batch back in order, so a round costs
   * about one op per image rather than all 16 ops on the whole batch.
   */
  private static Operand<TFloat32> layer(Ops tf, Operand<TFloat32> x, int magnitude, Rng rng,
      int forcedOp) {
    float m = magnitude / 10f;
    Operand<TInt32> shape = tf.shape(x);
    Operand<TInt32> n1 = tf.slice(shape, tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    Operand<TInt32> n = tf.reshape(n1, tf.constant(new int[0]));
    Operand<TFloat32> hf = tf.dtypes.cast(tf.gather(shape, tf.constant(1), tf.constant(0)), TFloat32.class);
    Operand<TFloat32> wf = tf.dtypes.cast(tf.gather(shape, tf.constant(2), tf.constant(0)), TFloat32.class);

    Operand<TInt32> op = rng.uniformInt(n1, 0, OPS.size());
    Operand<TFloat32> prob = rng.uniform(n1, 0.2f, 0.8f);
    Operand<TFloat32> coin = rng.uniform(n1, 0f, 1f);
    Operand<TInt32> sel = forcedOp >= 0 ? tf.fill(n1, tf.constant(forcedOp))
        : tf.select(tf.math.less(coin, prob), op, tf.fill(n1, tf.constant(-1)));
    Operand<TFloat32> sign = tf.math.sub(
        tf.math.mul(tf.dtypes.cast(tf.math.less(rng.uniform(n1, 0f, 1f), tf.constant(0.5f)),
            TFloat32.class), tf.constant(2f)), tf.constant(1f));

    Operand<TInt32> part = tf.math.add(sel, tf.constant(1));
    long parts = OPS.size() + 1;
    List<Operand<TFloat32>> xs = new ArrayList<>();
    tf.dynamicPartition(x, part, parts).forEach(xs::add);
    List<Operand<TFloat32>> signs = new ArrayList<>();
    tf.dynamicPartition(sign, part, parts).forEach(signs::add);
    List<Operand<TInt32>> idx = new ArrayList<>();
    tf.dynamicPartition(tf.range(tf.constant(0), n, tf.constant(1)), part, parts).forEach(idx::add);
    List<Operand<TFloat32>> outs = new ArrayList<>();
    outs.add(xs.get(0));
    for (int k = 0; k < OPS.size(); k++) {
      Operand<TFloat32> xk = xs.get(k + 1);
      outs.add(clip255(tf, one(tf, k, xk, signs.get(k + 1), hf, wf, m, rng.fork(1000 + k))));
    }
    return tf.dynamicStitch(idx, outs);
  }

  /** Op {@code k} at magnitude {@code m} (0..1 scale) on the images {@code x} [M, H, W, 3]. */
  private static Operand<TFloat32> one(Ops tf, int k, Operand<TFloat32> x, Operand<TFloat32> sign,
      Operand<TFloat32> hf, Operand<TFloat32> wf, float m, Rng rng) {
    float enhance = m * 1.8f + 0.1f;
    switch (OPS.get(k)) {
      case "AutoContrast": return autoContrast(tf, x);
      case "Equalize": return equalize(tf, x);
      case "Invert": return tf.math.sub(tf.constant(255f), x);
      case "Posterize": {
        int bits = (int) (m * 4);
        float div = (float) Math.pow(2, 8 - bits);
        return tf.math.mul(tf.math.floor(tf.math.div(x, tf.constant(div))), tf.constant(div));
      }
      case "Solarize": {
        Operand<TFloat32> below = lessF(tf, x, (float) (int) (m * 256));
        return tf.math.add(tf.math.mul(below, x),
            tf.math.mul(tf.math.sub(tf.constant(1f), below), tf.math.sub(tf.constant(255f), x)));
      }
      case "SolarizeAdd": {
        Operand<TFloat32> low = lessF(tf, x, 128f);
        return tf.math.add(x, tf.math.mul(low, tf.constant((float) (int) (m * 110))));
      }
      case "Color": return blend(tf, grayscale(tf, x), x, enhance);
      case "Contrast": return blend(tf, tf.math.mean(grayscale(tf, x), tf.constant(new int[] {1, 2, 3}),
          org.tensorflow.op.math.Mean.keepDims(true)), x, enhance);
      case "Brightness": return blend(tf, tf.zerosLike(x), x, enhance);
      case "Sharpness": return blend(tf, smooth(tf, x), x, enhance);
      case "Cutout": {
        Operand<TInt32> n1 = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
        return cutout(tf, x, hf, wf, n1, m, rng);
      }
      default: return geometric(tf, OPS.get(k), x, sign, hf, wf, m);
    }
  }

  private static Operand<TFloat32> geometric(Ops tf, String name, Operand<TFloat32> x,
      Operand<TFloat32> sign, Operand<TFloat32> hf, Operand<TFloat32> wf, float m) {
    Operand<TFloat32> zero = tf.zerosLike(sign);
    Operand<TFloat32> one = tf.onesLike(sign);
    Operand<TFloat32> transform;
    switch (name) {
      case "Rotate": {
        Operand<TFloat32> theta = tf.math.mul(sign, tf.constant((float) Math.toRadians(m * 30f)));
        Operand<TFloat32> cos = tf.math.cos(theta);
        Operand<TFloat32> sin = tf.math.sin(theta);
        Operand<TFloat32> w1 = tf.math.sub(wf, tf.constant(1f));
        Operand<TFloat32> h1 = tf.math.sub(hf, tf.constant(1f));
        Operand<TFloat32> xo = tf.math.div(tf.math.sub(w1,
            tf.math.sub(tf.math.mul(cos, w1), tf.math.mul(sin, h1))), tf.constant(2f));
        Operand<TFloat32> yo = tf.math.div(tf.math.sub(h1,
            tf.math.add(tf.math.mul(sin, w1), tf.math.mul(cos, h1))), tf.constant(2f));
        transform = row(tf, cos, tf.math.neg(sin), xo, sin, cos, yo);
        break;
      }
      case "ShearX":
        transform = row(tf, one, tf.math.mul(sign, tf.constant(m * 0.3f)), zero, zero, one, zero);
        break;
      case "ShearY":
        transform = row(tf, one, zero, zero, tf.math.mul(sign, tf.constant(m * 0.3f)), one, zero);
        break;
      case "TranslateX":
        transform = row(tf, one, zero,
            tf.math.neg(tf.math.mul(sign, tf.math.mul(wf, tf.constant(m * 100f / 224f)))), zero, one, zero);
        break;
      case "TranslateY":
        transform = row(tf, one, zero, zero, zero, one,
            tf.math.neg(tf.math.mul(sign, tf.math.mul(hf, tf.constant(m * 100f / 224f)))));
        break;
      default:
        throw new IllegalArgumentException(name);
    }
    Operand<TInt32> hw = tf.slice(tf.shape(x), tf.constant(new int[] {1}), tf.constant(new int[] {2}));
    return tf.image.imageProjectiveTransformV3(x, transform, hw, tf.constant(128f), "BILINEAR",
        ImageProjectiveTransformV3.fillMode("CONSTANT"));
  }

  private static Operand<TFloat32> row(Ops tf, Operand<TFloat32> a0, Operand<TFloat32> a1,
      Operand<TFloat32> a2, Operand<TFloat32> b0, Operand<TFloat32> b1, Operand<TFloat32> b2) {
    Operand<TFloat32> z = tf.zerosLike(a0);
    return tf.stack(List.of(a0, a1, a2, b0, b1, b2, z, z), org.tensorflow.op.core.Stack.axis(1L));
  }




  private static Operand<TFloat32> lessF(Ops tf, Operand<TFloat32> x, float v) {
    return tf.dtypes.cast(tf.math.less(x, tf.constant(v)), TFloat32.class);
  }

  static Operand<TFloat32> clip255(Ops tf, Operand<TFloat32> x) {
    return tf.clipByValue(x, tf.constant(0f), tf.constant(255f));
  }

  /** degenerate + factor * (x - degenerate), clipped (PIL ImageEnhance semantics). */
  private static Operand<TFloat32> blend(Ops tf, Operand<TFloat32> degenerate, Operand<TFloat32> x,
      float factor) {
    return clip255(tf, tf.math.add(degenerate,
        tf.math.mul(tf.constant(factor), tf.math.sub(x, degenerate))));
  }

  /** ITU-R 601 luma, [N, H, W, 1]. */
  private static Operand<TFloat32> grayscale(Ops tf, Operand<TFloat32> x) {
    Operand<TFloat32> w = tf.constant(new float[] {0.2989f, 0.587f, 0.114f});
    return tf.sum(tf.math.mul(x, w), tf.constant(new int[] {3}),
        org.tensorflow.op.core.Sum.keepDims(true));
  }

  private static Operand<TFloat32> autoContrast(Ops tf, Operand<TFloat32> x) {
    Operand<TInt32> axes = tf.constant(new int[] {1, 2});
    Operand<TFloat32> lo = tf.min(x, axes, org.tensorflow.op.core.Min.keepDims(true));
    Operand<TFloat32> hi = tf.max(x, axes, org.tensorflow.op.core.Max.keepDims(true));
    Operand<TFloat32> range = tf.math.sub(hi, lo);
    Operand<TFloat32> valid = tf.dtypes.cast(tf.math.greater(range, tf.constant(0f)), TFloat32.class);
    Operand<TFloat32> scaled = tf.math.mul(tf.math.sub(x, lo),
        tf.math.divNoNan(tf.constant(255f), range));
    return clip255(tf, tf.math.add(x, tf.math.mul(valid, tf.math.sub(scaled, x))));
  }

  /** Per-image, per-channel histogram equalisation (PIL ImageOps.equalize, as in autoaugment.py). */
  private static Operand<TFloat32> equalize(Ops tf, Operand<TFloat32> x) {
    Operand<TInt32> xi = tf.dtypes.cast(tf.math.round(clip255(tf, x)), TInt32.class);
    Operand<TInt32> shape = tf.shape(x);
    Operand<TInt32> n = tf.gather(shape, tf.constant(0), tf.constant(0));
    Operand<TFloat32> pixels = tf.dtypes.cast(tf.math.mul(
        tf.gather(shape, tf.constant(1), tf.constant(0)),
        tf.gather(shape, tf.constant(2), tf.constant(0))), TFloat32.class);
    Operand<TInt32> nIdx = tf.reshape(tf.range(tf.constant(0), n, tf.constant(1)),
        tf.constant(new int[] {-1, 1, 1, 1}));
    Operand<TInt32> cIdx = tf.constant(new int[][][][] {{{{0, 1, 2}}}});
    Operand<TInt32> ids = tf.math.add(
        tf.math.mul(tf.math.add(tf.math.mul(nIdx, tf.constant(3)), cIdx), tf.constant(256)), xi);
    Operand<TFloat32> hist = tf.math.unsortedSegmentSum(
        tf.onesLike(x), ids, tf.math.mul(n, tf.constant(768)));
    hist = tf.reshape(hist, tf.constant(new int[] {-1, 3, 256}));
    Operand<TInt32> maxv = tf.max(xi, tf.constant(new int[] {1, 2})); // [N,3]
    Operand<TFloat32> last = tf.sum(tf.math.mul(hist,
        tf.oneHot(maxv, tf.constant(256), tf.constant(1f), tf.constant(0f))), tf.constant(2));
    Operand<TFloat32> step = tf.math.floor(tf.math.div(tf.math.sub(pixels, last), tf.constant(255f)));
    Operand<TFloat32> cum = tf.math.cumsum(hist, tf.constant(2), Cumsum.exclusive(true));
    Operand<TFloat32> half = tf.math.floor(tf.math.div(step, tf.constant(2f)));
    Operand<TFloat32> lut = tf.math.floor(tf.math.div(
        tf.math.add(cum, tf.expandDims(half, tf.constant(2))),
        tf.expandDims(tf.math.maximum(step, tf.constant(1f)), tf.constant(2))));
    lut = clip255(tf, lut);
    Operand<TFloat32> eq = tf.gather(tf.reshape(lut, tf.constant(new int[] {-1})), ids, tf.constant(0));
    Operand<TFloat32> valid = tf.reshape(tf.dtypes.cast(tf.math.greater(step, tf.constant(0f)),
        TFloat32.class), tf.constant(new int[] {-1, 1, 1, 3}));
    return tf.math.add(x, tf.math.mul(valid, tf.math.sub(eq, x)));
  }

  /**
   * PIL's SMOOTH filter ([[1,1,1],[1,5,1],[1,1,1]]/13) inside, original pixels on the border. Built
   * from nine shifted slices (not a depthwise convolution, whose shape inference misbehaves on the
   * empty partitions that RandAugment produces).
   */
  private static Operand<TFloat32> smooth(Ops tf, Operand<TFloat32> x) {
    Operand<TInt32> shape = tf.shape(x);
    Operand<TInt32> h = tf.gather(shape, tf.constant(1), tf.constant(0));
    Operand<TInt32> w = tf.gather(shape, tf.constant(2), tf.constant(0));
    Operand<TInt32> pads = tf.constant(new int[][] {{0, 0}, {1, 1}, {1, 1}, {0, 0}});
    Operand<TFloat32> xp = tf.pad(x, pads, tf.constant(0f));
    Operand<TInt32> size = tf.stack(List.of(tf.constant(-1), h, w, tf.constant(-1)));
    Operand<TFloat32> acc = tf.math.mul(x, tf.constant(4f));
    for (int dy = 0; dy < 3; dy++) {
      for (int dx = 0; dx < 3; dx++) {
        acc = tf.math.add(acc, tf.slice(xp, tf.constant(new int[] {0, dy, dx, 0}), size));
      }
    }
    Operand<TFloat32> smoothed = tf.math.div(acc, tf.constant(13f));
    // 1 inside, 0 on the one-pixel border: [1, H, W, 1]
    Operand<TFloat32> inner = tf.pad(
        tf.fill(tf.stack(List.of(tf.constant(1), tf.math.sub(h, tf.constant(2)),
            tf.math.sub(w, tf.constant(2)), tf.constant(1))), tf.constant(1f)),
        pads, tf.constant(0f));
    return tf.math.add(tf.math.mul(inner, smoothed),
        tf.math.mul(tf.math.sub(tf.constant(1f), inner), x));
  }

  private static Operand<TFloat32> cutout(Ops tf, Operand<TFloat32> x, Operand<TFloat32> hf,
      Operand<TFloat32> wf, Operand<TInt32> n1, float m, Rng rng) {
    Operand<TFloat32> padH = tf.math.mul(hf, tf.constant(m * 40f / 224f));
    Operand<TFloat32> padW = tf.math.mul(wf, tf.constant(m * 40f / 224f));
    Operand<TFloat32> cy = tf.math.floor(tf.math.mul(rng.uniform(n1, 0f, 1f), hf)); // [N]
    Operand<TFloat32> cx = tf.math.floor(tf.math.mul(rng.uniform(n1, 0f, 1f), wf));
    Operand<TInt32> shape = tf.shape(x);
    Operand<TFloat32> ys = tf.dtypes.cast(tf.range(tf.constant(0),
        tf.gather(shape, tf.constant(1), tf.constant(0)), tf.constant(1)), TFloat32.class);
    Operand<TFloat32> xs = tf.dtypes.cast(tf.range(tf.constant(0),
        tf.gather(shape, tf.constant(2), tf.constant(0)), tf.constant(1)), TFloat32.class);
    Operand<TFloat32> rows = band(tf, ys, cy, padH); // [N, H]
    Operand<TFloat32> cols = band(tf, xs, cx, padW); // [N, W]
    Operand<TFloat32> mask = tf.math.mul(
        tf.expandDims(tf.expandDims(rows, tf.constant(2)), tf.constant(3)),   // [N,H,1,1]
        tf.expandDims(tf.expandDims(cols, tf.constant(1)), tf.constant(3)));  // [N,1,W,1]
    return tf.math.add(tf.math.mul(x, tf.math.sub(tf.constant(1f), mask)),
        tf.math.mul(mask, tf.constant(128f)));
  }

  /** 1 where {@code centre - pad <= v < centre + pad}; v [L], centre [N] to [N, L]. */
  private static Operand<TFloat32> band(Ops tf, Operand<TFloat32> v, Operand<TFloat32> centre,
      Operand<TFloat32> pad) {
    Operand<TFloat32> c = tf.expandDims(centre, tf.constant(1));
    Operand<TFloat32> vv = tf.expandDims(v, tf.constant(0));
    return tf.dtypes.cast(tf.math.logicalAnd(
        tf.math.greaterEqual(vv, tf.math.sub(c, pad)),
        tf.math.less(vv, tf.math.add(c, pad))), TFloat32.class);
  }
}
