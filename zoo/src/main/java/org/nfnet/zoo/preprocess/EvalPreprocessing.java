package org.nfnet.zoo.preprocess;

import java.util.Arrays;
import java.util.List;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.While;
import org.tensorflow.op.image.DecodeImage;
import org.tensorflow.op.image.ResizeBicubic;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;
import org.tensorflow.types.family.TNumber;

/**
 * DeepMind's NFNet evaluation preprocessing ({@code eval_preproc='resize_crop_32'}) as TF graph ops.
 *
 * <ol>
 *   <li>uint8 RGB [N,H,W,3] of any size is cast to float32;</li>
 *   <li>{@code ResizeBicubic} to (test+32)x(test+32), {@code half_pixel_centers=true},
 *       {@code align_corners=false}: the aspect ratio is squashed, values are NOT clamped (the
 *       Keys kernel, a = -0.5, overshoots below 0 and above 255);</li>
 *   <li>centre crop test x test at offset ((test+32 - test) + 1) / 2 = 16;</li>
 *   <li>subtract (0.485, 0.456, 0.406) x 255, divide by (0.229, 0.224, 0.225) x 255.</li>
 * </ol>
 *
 * <p>Encoded images ({@link #decodeAndResize}) are decoded one by one inside a
 * {@code StatelessWhile} loop over a string batch [N]: each image may have its own size and
 * format (JPEG, PNG, GIF first frame, BMP; grayscale and RGBA become RGB via
 * {@code DecodeImage(channels=3)}), and is resized to the common (test+32)^2 inside the loop, so
 * the loop's accumulator has a fixed inner shape. Resizing inside the loop applies exactly the
 * same per-image op as resizing a batch of one, so both routes give identical numbers. The loop
 * body is a graph function in the graph's function library, which SavedModels carry along.
 */
public final class EvalPreprocessing {
  /** Pixels added to the test size before the centre crop ('resize_crop_32'). */
  public static final int CROP_PADDING = 32;
  /** ImageNet mean, in 0..255 units, as DeepMind's MEAN_RGB. */
  public static final float[] MEAN_RGB = {0.485f * 255, 0.456f * 255, 0.406f * 255};
  /** ImageNet std, in 0..255 units, as DeepMind's STDDEV_RGB. */
  public static final float[] STDDEV_RGB = {0.229f * 255, 0.224f * 255, 0.225f * 255};

  private final int testImsize;
  private final int cropPadding;

  /** DeepMind's 'resize_crop_32'. */
  public EvalPreprocessing(int testImsize) {
    this(testImsize, CROP_PADDING);
  }

  /**
   * @param cropPadding pixels added before the centre crop: 32 is DeepMind's ImageNet setting;
   *     0 is a plain (squashing) resize to the test size, for datasets whose objects fill the frame
   *     (Fashion-MNIST) and were trained without the crop
   */
  public EvalPreprocessing(int testImsize, int cropPadding) {
    if (testImsize <= 0) {
      throw new IllegalArgumentException("test image size must be positive, got " + testImsize);
    }
    if (cropPadding < 0) {
      throw new IllegalArgumentException("crop padding must be >= 0, got " + cropPadding);
    }
    this.testImsize = testImsize;
    this.cropPadding = cropPadding;
  }

  public int cropPadding() {
    return cropPadding;
  }

  /** 'resize_crop_32' for DeepMind's setting, else 'resize_crop_N' / 'resize'. */
  public String name() {
    return cropPadding == 0 ? "resize" : "resize_crop_" + cropPadding;
  }

  public static EvalPreprocessing of(NFNetConfig config) {
    return new EvalPreprocessing(config.testImsize());
  }

  /** Side of the network input (the crop). */
  public int testImsize() {
    return testImsize;
  }

  /** Side every image is resized to before cropping: test + crop padding (32). */
  public int resizeSize() {
    return testImsize + cropPadding;
  }

  /** Offset of the centre crop in both directions: ((resize - test) + 1) / 2 = 16. */
  public int cropOffset() {
    return (resizeSize() - testImsize + 1) / 2;
  }

  /** Full pipeline for uint8 (or any numeric) NHWC RGB images of any size: [N, test, test, 3]. */
  public Operand<TFloat32> apply(Ops tf, Operand<? extends TNumber> images) {
    return cropAndNormalize(tf, resize(tf, images));
  }

  /** Full pipeline for encoded images, a string tensor [N]: [N, test, test, 3]. */
  public Operand<TFloat32> applyEncoded(Ops tf, Operand<TString> imageBytes) {
    return cropAndNormalize(tf, decodeAndResize(tf, imageBytes));
  }

  /** Cast to float and bicubic-resize (no clamping) to [N, test+32, test+32, 3]. */
  public Operand<TFloat32> resize(Ops tf, Operand<? extends TNumber> images) {
    // ResizeBicubic computes in float and returns float for every input type; casting first
    // mirrors DeepMind's tf.image.resize on the float image.
    Operand<TFloat32> f = tf.dtypes.cast(images, TFloat32.class);
    return tf.withName("resize").image.resizeBicubic(f,
        tf.constant(new int[] {resizeSize(), resizeSize()}),
        ResizeBicubic.alignCorners(false), ResizeBicubic.halfPixelCenters(true));
  }

  /** Centre crop [N, S, S, 3] -> [N, test, test, 3], then per-channel (x - mean) / std. */
  public Operand<TFloat32> cropAndNormalize(Ops tf, Operand<TFloat32> resized) {
    int o = cropOffset();
    Operand<TFloat32> crop = tf.withName("crop").slice(resized, tf.constant(new int[] {0, o, o, 0}),
        tf.constant(new int[] {-1, testImsize, testImsize, 3}));
    Operand<TFloat32> centred = tf.math.sub(crop, tf.constant(MEAN_RGB));
    return tf.withName("normalize").math.div(centred, tf.constant(STDDEV_RGB));
  }

  /** Decodes one encoded image (scalar string) to uint8 RGB [H, W, 3]. */
  public static Operand<TUint8> decodeRgb(Ops tf, Operand<TString> imageBytes) {
    return tf.image.decodeImage(imageBytes, new DecodeImage.Options[] {
        DecodeImage.channels(3L), DecodeImage.expandAnimations(false)});
  }

  /**
   * Decodes a batch of encoded images [N] (each its own size and format) and resizes each to
   * [test+32, test+32, 3]: a float [N, test+32, test+32, 3] tensor. Runs a StatelessWhile loop.
   */
  public Operand<TFloat32> decodeAndResize(Ops tf, Operand<TString> imageBytes) {
    int s = resizeSize();
    Shape accShape = Shape.of(-1, s, s, 3);
    ConcreteFunction cond = ConcreteFunction.create(f -> {
      Placeholder<TInt32> i = f.withName("i").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<TFloat32> acc = f.withName("acc").placeholder(TFloat32.class, Placeholder.shape(accShape));
      Placeholder<TString> bytes = f.withName("bytes").placeholder(TString.class,
          Placeholder.shape(Shape.of(-1)));
      Operand<TInt32> n = f.size(bytes, TInt32.class);
      return Signature.builder().key("decode_cond").input("i", i).input("acc", acc).input("bytes", bytes)
          .output("more", f.math.less(i, n)).build();
    });
    ConcreteFunction body = ConcreteFunction.create(f -> {
      Placeholder<TInt32> i = f.withName("i").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<TFloat32> acc = f.withName("acc").placeholder(TFloat32.class, Placeholder.shape(accShape));
      Placeholder<TString> bytes = f.withName("bytes").placeholder(TString.class,
          Placeholder.shape(Shape.of(-1)));
      Operand<TString> one = f.gather(bytes, i, f.constant(0));
      Operand<TUint8> rgb = decodeRgb(f, one);
      Operand<TFloat32> resized = resize(f, f.expandDims(rgb, f.constant(0)));
      Operand<TFloat32> next = f.concat(List.of(acc, resized), f.constant(0));
      return Signature.builder().key("decode_body")
          .input("i", i).input("acc", acc).input("bytes", bytes)
          .output("i_next", f.math.add(i, f.constant(1)))
          .output("acc_next", f.ensureShape(next, accShape))
          .output("bytes_next", f.identity(bytes)).build();
    });
    // The accumulator starts as [0, S, S, 3]; its batch size is computed from the input so that
    // static shape inference cannot pin it to 0.
    Operand<TInt32> zero = f0(tf, imageBytes);
    Operand<TFloat32> acc0 = tf.fill(tf.stack(List.of(zero, tf.constant(s), tf.constant(s), tf.constant(3))),
        tf.constant(0f));
    While loop;
    try (cond; body) { // the graph keeps its own copies of the functions
      loop = tf.withName("decode_loop").statelessWhile(
          Arrays.asList(tf.constant(0), acc0, imageBytes), cond, body,
          While.outputShapes(Shape.scalar(), accShape, Shape.of(-1)));
    }
    @SuppressWarnings("unchecked")
    Operand<TFloat32> out = (Operand<TFloat32>) loop.output().get(1);
    return tf.withName("decoded").identity(out);
  }

  private static Operand<TInt32> f0(Ops tf, Operand<TString> imageBytes) {
    return tf.math.mul(tf.size(imageBytes, TInt32.class), tf.constant(0));
  }
}
