package org.nfnet.training.data;

import java.util.List;
import org.nfnet.zoo.preprocess.EvalPreprocessing;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.image.CropAndResize;
import org.tensorflow.op.image.DecodeImage;
import org.tensorflow.op.image.ResizeBicubic;
import org.tensorflow.op.image.ResizeBilinear;
import org.tensorflow.op.image.StatelessSampleDistortedBoundingBox;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/** In-graph preprocessing ops shared by the data sources (DeepMind NFNet conventions). */
public final class Preprocess {
  /** DeepMind's ImageNet normalisation, in 0..255 pixel units. */
  public static final float[] MEAN_RGB = EvalPreprocessing.MEAN_RGB;

  public static final float[] STDDEV_RGB = EvalPreprocessing.STDDEV_RGB;

  /** Largest random shift (pixels, at 28 px) of the Fashion-MNIST training crop/pad. */
  static final int MNIST_MAX_SHIFT = 3;

  private Preprocess() {}

  /** (x - mean) / std per channel, x in 0..255, last dimension = 3. */
  public static Operand<TFloat32> normalize(Ops tf, Operand<TFloat32> images) {
    return tf.math.div(
        tf.math.sub(images, tf.constant(MEAN_RGB)), tf.constant(STDDEV_RGB));
  }

  /**
   * Fashion-MNIST batch transform. {@code images} uint8 [N, 28, 28] -> float [N, S, S, 3] in 0..255.
   * Training: per-example random shift of up to 3 pixels (zero padding) and random left-right flip
   * at the native 28 px (one {@code CropAndResize} with per-example, possibly mirrored, boxes whose
   * samples fall exactly on pixels), grayscale replicated to RGB, then RandAugment (when {@code
   * randAugment} is non-null) still at 28 px — DeepMind also augments the crop before resizing —
   * and finally a bilinear resize (half-pixel centres) to S. Eval: bilinear resize only.
   */
  static Operand<TFloat32> grayBatch(
      Ops tf, Operand<TUint8> images, int size, boolean training, String randAugment, Rng rng) {
    Operand<TFloat32> x = tf.expandDims(tf.dtypes.cast(images, TFloat32.class), tf.constant(-1));
    Operand<TFloat32> out;
    if (!training) {
      out = tf.image.resizeBilinear(
          x, tf.constant(new int[] {size, size}), ResizeBilinear.halfPixelCenters(true));
    } else {
      Operand<TInt32> shape = tf.shape(images);
      Operand<TInt32> n = tf.slice(shape, tf.constant(new int[] {0}), tf.constant(new int[] {1}));
      Operand<TFloat32> hMinus1 = tf.math.sub(
          tf.dtypes.cast(tf.gather(shape, tf.constant(1), tf.constant(0)), TFloat32.class),
          tf.constant(1f));
      // integer shifts in [-MAX, MAX] for y and x
      Operand<TFloat32> shifts = tf.dtypes.cast(
          rng.uniformInt(tf.concat(List.of(n, tf.constant(new int[] {2})), tf.constant(0)),
              -MNIST_MAX_SHIFT, MNIST_MAX_SHIFT + 1), TFloat32.class);
      Operand<TFloat32> d = tf.math.div(shifts, hMinus1); // [N, 2] (dy, dx), normalised units
      Operand<TFloat32> dy = tf.slice(d, tf.constant(new int[] {0, 0}), tf.constant(new int[] {-1, 1}));
      Operand<TFloat32> dx = tf.slice(d, tf.constant(new int[] {0, 1}), tf.constant(new int[] {-1, 1}));
      Operand<TFloat32> flip = tf.dtypes.cast(
          tf.math.less(rng.uniform(n, 0f, 1f), tf.constant(0.5f)), TFloat32.class);
      flip = tf.expandDims(flip, tf.constant(-1)); // [N,1]
      Operand<TFloat32> x1 = tf.math.add(dx, flip); // flipped: x1 = 1 + dx, x2 = dx
      Operand<TFloat32> x2 = tf.math.add(dx, tf.math.sub(tf.constant(1f), flip));
      Operand<TFloat32> boxes = tf.concat(
          List.of(dy, x1, tf.math.add(dy, tf.constant(1f)), x2), tf.constant(1));
      Operand<TInt32> boxInd = tf.range(tf.constant(0), tf.reshape(n, tf.constant(new int[0])),
          tf.constant(1));
      int h = (int) images.shape().get(1), w = (int) images.shape().get(2);
      Operand<TFloat32> shifted = tf.image.cropAndResize(x, boxes, boxInd,
          tf.constant(new int[] {h, w}), CropAndResize.method("bilinear"),
          CropAndResize.extrapolationValue(0f));
      out = tf.tile(shifted, tf.constant(new int[] {1, 1, 1, 3}));
      if (randAugment != null) out = RandAugment.apply(tf, out, randAugment, rng.fork(1));
      if (h == size && w == size) return out;
      return tf.image.resizeBilinear(
          out, tf.constant(new int[] {size, size}), ResizeBilinear.halfPixelCenters(true));
    }
    return tf.tile(out, tf.constant(new int[] {1, 1, 1, 3}));
  }

  /** Reads and decodes one image file to uint8 [H, W, 3] (JPEG, PNG, GIF first frame, BMP). */
  static Operand<TUint8> decodeFile(Ops tf, Operand<TString> path) {
    return tf.image.decodeImage(
        tf.io.readFile(path), TUint8.class,
        DecodeImage.channels(3L), DecodeImage.expandAnimations(false));
  }

  /**
   * DeepMind's eval preprocessing {@code resize_crop_32} on one decoded image, via the zoo's {@link
   * EvalPreprocessing} (bicubic resize squashing the aspect ratio to (size+32)^2, centre crop
   * size^2, normalisation; not clamped): uint8 [H, W, 3] -> normalised float [size, size, 3].
   */
  static Operand<TFloat32> evalResizeCropNormalize(Ops tf, Operand<TUint8> image, int size) {
    Operand<TFloat32> out = new EvalPreprocessing(size).apply(tf, tf.expandDims(image, tf.constant(0)));
    return tf.reshape(out, tf.constant(new int[] {size, size, 3}));
  }

  /**
   * DeepMind's training crop on one decoded image: Inception-style distorted bounding box (area
   * 0.08–1, aspect 3/4–4/3, 10 attempts), falling back to a centre crop of side
   * {@code size/(size+32) * min(h, w)} when sampling failed (the box is the whole image); random
   * left-right flip; bicubic resize to size^2; clipped to 0..255.
   */
  static Operand<TFloat32> trainCrop(Ops tf, Operand<TUint8> image, int size, Rng rng) {
    Operand<TInt32> shape = tf.shape(image);
    Operand<TFloat32> whole = tf.constant(new float[][][] {{{0f, 0f, 1f, 1f}}});
    var box = tf.image.statelessSampleDistortedBoundingBox(
        shape, whole, tf.constant(0.1f), rng.seed(),
        StatelessSampleDistortedBoundingBox.areaRange(0.08f, 1f),
        StatelessSampleDistortedBoundingBox.aspectRatioRange(3f / 4f, 4f / 3f),
        StatelessSampleDistortedBoundingBox.maxAttempts(10L),
        StatelessSampleDistortedBoundingBox.useImageIfNoBoundingBoxes(true));
    Operand<TInt32> begin = box.begin();
    Operand<TInt32> cropSize = box.sizeOutput();
    // fallback: centre crop with DeepMind's 32-pixel margin
    Operand<TInt32> hw = tf.slice(shape, tf.constant(new int[] {0}), tf.constant(new int[] {2}));
    Operand<TFloat32> minSide = tf.dtypes.cast(tf.min(hw, tf.constant(0)), TFloat32.class);
    Operand<TInt32> side = tf.dtypes.cast(
        tf.math.mul(minSide, tf.constant((float) size / (size + 32))), TInt32.class);
    side = tf.math.maximum(side, tf.constant(1));
    Operand<TInt32> off = tf.math.div(
        tf.math.add(tf.math.sub(hw, side), tf.constant(1)), tf.constant(2));
    Operand<TInt32> centreBegin = tf.concat(List.of(off, tf.constant(new int[] {0})), tf.constant(0));
    Operand<TInt32> centreSize = tf.concat(
        List.of(tf.stack(List.of(side, side)), tf.constant(new int[] {-1})), tf.constant(0));
    Operand<org.tensorflow.types.TBool> failed = tf.reduceAll(
        tf.math.equal(cropSize, shape), tf.constant(0));
    begin = tf.select(failed, centreBegin, begin);
    cropSize = tf.select(failed, centreSize, cropSize);
    Operand<TUint8> crop = tf.slice(image, begin, cropSize);
    Operand<TFloat32> f = tf.expandDims(tf.dtypes.cast(crop, TFloat32.class), tf.constant(0));
    Operand<TFloat32> flipped = tf.reverse(f, tf.constant(new int[] {2}));
    f = tf.select(tf.math.less(rng.uniform(new int[0], 0f, 1f), tf.constant(0.5f)), flipped, f);
    Operand<TFloat32> resized = tf.image.resizeBicubic(
        f, tf.constant(new int[] {size, size}), ResizeBicubic.halfPixelCenters(true));
    resized = tf.clipByValue(resized, tf.constant(0f), tf.constant(255f));
    return tf.reshape(resized, tf.constant(new int[] {size, size, 3}));
  }

  /**
   * Common batch tail (images in 0..255): training applies RandAugment (0..255), normalisation, one-hot targets and
   * MixUp/CutMix (which turn {@code 2 * outSize} input examples into {@code outSize}); evaluation
   * only normalises and one-hots. Returns {images, labels, targets}.
   */
  static List<org.tensorflow.Operand<?>> batchTail(
      Ops tf, Operand<TFloat32> images, Operand<TInt32> labels, int numClasses, boolean training,
      Augment augment, Rng rng, int outSize) {
    return batchTail(tf, images, labels, numClasses, training, augment, rng, false, outSize);
  }

  /** As above; {@code normalized}: the images are already normalised (eval of image folders). */
  static List<org.tensorflow.Operand<?>> batchTail(
      Ops tf, Operand<TFloat32> images, Operand<TInt32> labels, int numClasses, boolean training,
      Augment augment, Rng rng, boolean normalized, int outSize) {
    Operand<TFloat32> x = images;
    if (training && augment.randAugment() != null) {
      if (normalized) throw new IllegalStateException("RandAugment needs 0..255 images");
      x = RandAugment.apply(tf, x, augment.randAugment(), rng.fork(1));
    }
    if (!normalized) x = normalize(tf, x);
    Operand<TFloat32> targets =
        tf.oneHot(labels, tf.constant(numClasses), tf.constant(1f), tf.constant(0f));
    Operand<TInt32> outLabels = labels;
    if (training && (augment.mixup() || augment.cutmix())) {
      MixCut.Mixed m = MixCut.apply(tf, x, targets, outSize, augment, rng.fork(2));
      x = m.images();
      targets = m.targets();
      outLabels = tf.math.argMax(targets, tf.constant(1), TInt32.class);
    }
    return List.of(x, outLabels, targets);
  }

  static Operand<TInt64> scalarIndex(Operand<?> idx) {
    @SuppressWarnings("unchecked")
    Operand<TInt64> i = (Operand<TInt64>) idx;
    return i;
  }
}
