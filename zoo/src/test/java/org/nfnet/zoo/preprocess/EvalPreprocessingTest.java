package org.nfnet.zoo.preprocess;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

class EvalPreprocessingTest {

  // ---- independent reference: TF's ResizeBicubic with half_pixel_centers (see resize_bicubic_op.cc)

  /** Keys cubic kernel with a = -0.5, the coefficient for |x| in [0, 2]. */
  static double keys(double x) {
    double a = -0.5;
    x = Math.abs(x);
    if (x <= 1) {
      return ((a + 2) * x - (a + 3)) * x * x + 1;
    }
    if (x < 2) {
      return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    }
    return 0;
  }

  /** Taps and weights along one axis for output index {@code out}: [idx0..3, w0..3]. */
  static double[] taps(int out, int inSize, int outSize) {
    float scale = (float) inSize / outSize;
    float inLocF = ((float) out + 0.5f) * scale - 0.5f;
    long inLoc = (long) Math.floor(inLocF);
    float delta = inLocF - inLoc;
    // TF reads its coefficients from a 1024-entry table indexed by round-half-even(delta * 1024).
    double d = Math.rint(delta * 1024.0f) / 1024.0;
    double[] r = new double[8];
    double sum = 0;
    for (int k = 0; k < 4; k++) {
      long idx = inLoc - 1 + k;
      double w = keys(d - (k - 1));
      if (idx < 0 || idx >= inSize) {
        w = 0; // out-of-image samples get no weight; the rest is renormalised
      }
      r[k] = Math.min(inSize - 1, Math.max(0, idx));
      r[4 + k] = w;
      sum += w;
    }
    for (int k = 0; k < 4; k++) {
      r[4 + k] /= sum;
    }
    return r;
  }

  /** Reference bicubic resize of one HWC image (values as doubles), no clamping. */
  static double[] refResize(double[] img, int h, int w, int oh, int ow) {
    double[] out = new double[oh * ow * 3];
    for (int y = 0; y < oh; y++) {
      double[] ty = taps(y, h, oh);
      for (int x = 0; x < ow; x++) {
        double[] tx = taps(x, w, ow);
        for (int c = 0; c < 3; c++) {
          double v = 0;
          for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
              v += ty[4 + i] * tx[4 + j] * img[(((int) ty[i]) * w + (int) tx[j]) * 3 + c];
            }
          }
          out[(y * ow + x) * 3 + c] = v;
        }
      }
    }
    return out;
  }

  static byte[] randomImage(Random r, int h, int w) {
    byte[] b = new byte[h * w * 3];
    r.nextBytes(b);
    return b;
  }

  static double[] toDouble(byte[] b) {
    double[] d = new double[b.length];
    for (int i = 0; i < b.length; i++) {
      d[i] = b[i] & 0xff;
    }
    return d;
  }

  static float[] run(Graph g, Placeholder<TUint8> in, byte[] pixels, Shape shape, Operand<TFloat32> out) {
    try (Session s = new Session(g);
        TUint8 t = TUint8.tensorOf(shape, DataBuffers.of(pixels, true, false));
        TFloat32 r = (TFloat32) s.runner().feed(in, t).fetch(out).run().get(0)) {
      float[] f = new float[(int) r.size()];
      r.copyTo(DataBuffers.of(f, false, false));
      return f;
    }
  }

  @Test
  void geometryOfT0() {
    EvalPreprocessing p = new EvalPreprocessing(72);
    assertEquals(104, p.resizeSize());
    assertEquals(16, p.cropOffset());
    assertEquals(16, new EvalPreprocessing(256).cropOffset());
    assertEquals(288, new EvalPreprocessing(256).resizeSize());
  }

  @Test
  void bicubicResizeMatchesIndependentReferenceUnclamped() {
    Random r = new Random(42);
    int h = 37;
    int w = 23; // non-square and upsampled anisotropically: aspect ratio is squashed
    byte[] px = randomImage(r, h, w);
    EvalPreprocessing p = new EvalPreprocessing(40); // resize to 72x72
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Placeholder<TUint8> in = tf.placeholder(TUint8.class, Placeholder.shape(Shape.of(-1, -1, -1, 3)));
      float[] got = run(g, in, px, Shape.of(1, h, w, 3), p.resize(tf, in));
      double[] want = refResize(toDouble(px), h, w, 72, 72);
      assertEquals(want.length, got.length);
      double maxErr = 0;
      float min = Float.MAX_VALUE;
      float max = -Float.MAX_VALUE;
      for (int i = 0; i < got.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
        min = Math.min(min, got[i]);
        max = Math.max(max, got[i]);
      }
      assertTrue(maxErr < 2e-3, "max abs error vs reference " + maxErr);
      // random noise makes the cubic overshoot: proof that nothing clamps to [0, 255]
      assertTrue(min < 0 && max > 255, "expected overshoot, got range " + min + ".." + max);
    }
  }

  @Test
  void fullPipelineCropsAtSixteenAndNormalises() {
    Random r = new Random(7);
    int h = 50;
    int w = 90;
    byte[] px = randomImage(r, h, w);
    EvalPreprocessing p = new EvalPreprocessing(64); // resize 96, crop 64 at 16
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Placeholder<TUint8> in = tf.placeholder(TUint8.class, Placeholder.shape(Shape.of(-1, -1, -1, 3)));
      Operand<TFloat32> out = p.apply(tf, in);
      float[] got = run(g, in, px, Shape.of(1, h, w, 3), out);
      assertEquals(64 * 64 * 3, got.length);
      double[] resized = refResize(toDouble(px), h, w, 96, 96);
      double maxErr = 0;
      for (int y = 0; y < 64; y++) {
        for (int x = 0; x < 64; x++) {
          for (int c = 0; c < 3; c++) {
            double v = resized[((y + 16) * 96 + (x + 16)) * 3 + c];
            double want = (v - EvalPreprocessing.MEAN_RGB[c]) / EvalPreprocessing.STDDEV_RGB[c];
            maxErr = Math.max(maxErr, Math.abs(want - got[(y * 64 + x) * 3 + c]));
          }
        }
      }
      assertTrue(maxErr < 5e-5 * 255, "max abs error " + maxErr);
    }
  }

  @Test
  void cropTakesTheExactCentreWindow() {
    EvalPreprocessing p = new EvalPreprocessing(8); // resize 40, crop 8 at 16
    float[] grid = new float[40 * 40 * 3];
    for (int y = 0; y < 40; y++) {
      for (int x = 0; x < 40; x++) {
        for (int c = 0; c < 3; c++) {
          // pre-scaled so that normalisation returns y*100 + x exactly-ish
          grid[(y * 40 + x) * 3 + c] = (y * 100 + x) * EvalPreprocessing.STDDEV_RGB[c]
              + EvalPreprocessing.MEAN_RGB[c];
        }
      }
    }
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> out = p.cropAndNormalize(tf, tf.constant(Shape.of(1, 40, 40, 3),
          DataBuffers.of(grid)));
      try (TFloat32 t = (TFloat32) s.runner().fetch(out).run().get(0)) {
        assertEquals(Shape.of(1, 8, 8, 3), t.shape());
        assertEquals(1616, t.getFloat(0, 0, 0, 0), 0.05);
        assertEquals(1623, t.getFloat(0, 0, 7, 1), 0.05);
        assertEquals(2316, t.getFloat(0, 7, 0, 2), 0.05);
        assertEquals(2323, t.getFloat(0, 7, 7, 0), 0.05);
      }
    }
  }

  // ---- in-graph decoding

  static byte[] encode(BufferedImage img, String format) throws IOException {
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    assertTrue(ImageIO.write(img, format, bos), "no ImageIO writer for " + format);
    return bos.toByteArray();
  }

  /** RGB pixels as the decoder should see them (grey replicated, alpha dropped). */
  static byte[] rgbOf(BufferedImage img) {
    int h = img.getHeight();
    int w = img.getWidth();
    byte[] b = new byte[h * w * 3];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        // getRGB would gamma-convert grey; the decoder replicates the raw sample
        int argb = img.getType() == BufferedImage.TYPE_BYTE_GRAY
            ? img.getRaster().getSample(x, y, 0) * 0x010101 : img.getRGB(x, y);
        b[(y * w + x) * 3] = (byte) (argb >> 16);
        b[(y * w + x) * 3 + 1] = (byte) (argb >> 8);
        b[(y * w + x) * 3 + 2] = (byte) argb;
      }
    }
    return b;
  }

  static BufferedImage pattern(int w, int h, int type, int seed) {
    BufferedImage img = new BufferedImage(w, h, type);
    Random r = new Random(seed);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        // few distinct colours so that GIF's palette is lossless
        int v = (x / 3 + y / 2 + r.nextInt(2)) % 8 * 32;
        int a = type == BufferedImage.TYPE_INT_ARGB ? 255 - (x % 2) * 100 : 255;
        img.setRGB(x, y, (a << 24) | (v << 16) | ((255 - v) << 8) | ((v * 3) & 0xff));
      }
    }
    if (type == BufferedImage.TYPE_BYTE_GRAY) {
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          img.getRaster().setSample(x, y, 0, (x * 7 + y * 3) % 256);
        }
      }
    }
    return img;
  }

  @Test
  void decodesMixedFormatsAndSizesInOneBatch() throws IOException {
    BufferedImage[] imgs = {
        pattern(33, 21, BufferedImage.TYPE_INT_RGB, 1), // png
        pattern(40, 57, BufferedImage.TYPE_BYTE_GRAY, 2), // grayscale png
        pattern(19, 26, BufferedImage.TYPE_INT_ARGB, 3), // rgba png
        pattern(45, 30, BufferedImage.TYPE_INT_RGB, 4), // gif
        pattern(28, 28, BufferedImage.TYPE_INT_RGB, 5), // bmp
    };
    String[] formats = {"png", "png", "png", "gif", "bmp"};
    byte[][] encoded = new byte[imgs.length][];
    for (int i = 0; i < imgs.length; i++) {
      encoded[i] = encode(imgs[i], formats[i]);
    }
    EvalPreprocessing p = new EvalPreprocessing(16); // resize 48
    int s = p.resizeSize();
    try (Graph g = new Graph(); Session sess = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TString> bytes = tf.placeholder(TString.class, Placeholder.shape(Shape.of(-1)));
      Operand<TFloat32> decoded = p.decodeAndResize(tf, bytes);
      Placeholder<TUint8> raw = tf.placeholder(TUint8.class, Placeholder.shape(Shape.of(-1, -1, -1, 3)));
      Operand<TFloat32> resized = p.resize(tf, raw);
      try (TString in = TString.tensorOfBytes(org.tensorflow.ndarray.NdArrays.vectorOfObjects(encoded));
          TFloat32 out = (TFloat32) sess.runner().feed(bytes, in).fetch(decoded).run().get(0)) {
        assertEquals(Shape.of(imgs.length, s, s, 3), out.shape());
        for (int i = 0; i < imgs.length; i++) {
          BufferedImage img = imgs[i];
          byte[] rgb = rgbOf(img);
          try (TUint8 t = TUint8.tensorOf(Shape.of(1, img.getHeight(), img.getWidth(), 3),
              DataBuffers.of(rgb, true, false));
              TFloat32 want = (TFloat32) sess.runner().feed(raw, t).fetch(resized).run().get(0)) {
            float[] a = new float[s * s * 3];
            float[] b = new float[s * s * 3];
            out.slice(org.tensorflow.ndarray.index.Indices.at(i)).copyTo(DataBuffers.of(a, false, false));
            want.copyTo(DataBuffers.of(b, false, false));
            assertArrayEquals(b, a, 0f, "image " + i + " (" + formats[i] + ")");
          }
        }
      }
    }
  }

  @Test
  void decodesJpegLikeDecodeJpeg() throws IOException {
    BufferedImage img = pattern(61, 35, BufferedImage.TYPE_INT_RGB, 9);
    byte[] jpeg = encode(img, "jpg");
    EvalPreprocessing p = new EvalPreprocessing(32);
    try (Graph g = new Graph(); Session sess = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TString> bytes = tf.placeholder(TString.class, Placeholder.shape(Shape.of(-1)));
      Operand<TFloat32> viaLoop = p.applyEncoded(tf, bytes);
      Placeholder<TString> one = tf.placeholder(TString.class, Placeholder.shape(Shape.scalar()));
      Operand<TFloat32> viaJpeg = p.apply(tf, tf.expandDims(
          tf.image.decodeJpeg(one, org.tensorflow.op.image.DecodeJpeg.channels(3L)), tf.constant(0)));
      try (TString in = TString.tensorOfBytes(org.tensorflow.ndarray.NdArrays.vectorOfObjects(jpeg, jpeg));
          TString sc = TString.tensorOfBytes(org.tensorflow.ndarray.NdArrays.scalarOfObject(jpeg));
          var res = sess.runner().feed(bytes, in).feed(one, sc).fetch(viaLoop).fetch(viaJpeg).run()) {
        TFloat32 a = (TFloat32) res.get(0);
        TFloat32 b = (TFloat32) res.get(1);
        assertEquals(Shape.of(2, 32, 32, 3), a.shape());
        for (int k = 0; k < 2; k++) {
          for (int y = 0; y < 32; y += 5) {
            for (int x = 0; x < 32; x += 3) {
              assertEquals(b.getFloat(0, y, x, 1), a.getFloat(k, y, x, 1), 0f);
            }
          }
        }
      }
    }
  }

  @Test
  void emptyBatchGivesEmptyOutput() {
    EvalPreprocessing p = new EvalPreprocessing(8);
    try (Graph g = new Graph(); Session sess = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TString> bytes = tf.placeholder(TString.class, Placeholder.shape(Shape.of(-1)));
      Operand<TFloat32> out = p.applyEncoded(tf, bytes);
      try (TString in = TString.tensorOf(
          org.tensorflow.ndarray.NdArrays.ofObjects(String.class, Shape.of(0)));
          TFloat32 t = (TFloat32) sess.runner().feed(bytes, in).fetch(out).run().get(0)) {
        assertEquals(Shape.of(0, 8, 8, 3), t.shape());
      }
    }
  }
}
