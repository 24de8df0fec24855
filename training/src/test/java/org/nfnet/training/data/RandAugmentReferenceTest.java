package org.nfnet.training.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;

/**
 * RandAugment's ops at non-trivial magnitudes against small independent implementations written
 * here from the definitions DeepMind's {@code autoaugment.py} follows (PIL {@code ImageEnhance} /
 * {@code ImageOps} semantics, grayscale with {@code tf.image.rgb_to_grayscale}'s weights), on float
 * pixels (the pipeline augments float images, so there is no uint8 rounding between ops).
 *
 * <p>Geometric ops draw a random sign per image: each image must match the reference for one of
 * the two signs, and the two candidates differ by far more than the tolerance.
 */
class RandAugmentReferenceTest {
  static final int N = 6;
  static final int H = 24;
  static final int W = 32;
  /** DeepMind's {@code tf.image.rgb_to_grayscale} weights. */
  static final double[] LUMA = {0.2989, 0.5870, 0.1140};

  /** Integer-valued RGB images in 1..250 (no 128s: cutout's fill must be unambiguous). */
  static float[][][][] images() {
    float[][][][] x = new float[N][H][W][3];
    for (int n = 0; n < N; n++) {
      for (int i = 0; i < H; i++) {
        for (int j = 0; j < W; j++) {
          for (int c = 0; c < 3; c++) {
            int v = (i * (7 + c) + j * (3 + 2 * c) + n * 29 + (i * j) % 11) % 240 + 5;
            x[n][i][j][c] = v == 128 ? 127 : v;
          }
        }
      }
    }
    return x;
  }

  static float[][][][] apply(String op, int magnitude) {
    float[][][][] in = images();
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      float[] flat = Fetch.eval(s, RandAugment.applyOp(tf, tf.constant(in),
          RandAugment.OPS.indexOf(op), magnitude, 17));
      float[][][][] out = new float[N][H][W][3];
      int k = 0;
      for (int n = 0; n < N; n++) {
        for (int i = 0; i < H; i++) {
          for (int j = 0; j < W; j++) {
            for (int c = 0; c < 3; c++) {
              out[n][i][j][c] = flat[k++];
            }
          }
        }
      }
      return out;
    }
  }

  static double clip(double v) {
    return Math.min(255, Math.max(0, v));
  }

  /** PIL ImageEnhance factor of DeepMind's enhance ops: {@code m / 10 * 1.8 + 0.1}. */
  static double enhanceFactor(int magnitude) {
    return magnitude / 10.0 * 1.8 + 0.1;
  }

  static double gray(float[] px) {
    return LUMA[0] * px[0] + LUMA[1] * px[1] + LUMA[2] * px[2];
  }

  /** Blend (ImageEnhance): {@code degenerate + f * (x - degenerate)}, clipped to 0..255. */
  static void assertBlend(float[][][][] out, double f, Degenerate d, String what) {
    float[][][][] in = images();
    for (int n = 0; n < N; n++) {
      for (int i = 0; i < H; i++) {
        for (int j = 0; j < W; j++) {
          for (int c = 0; c < 3; c++) {
            double deg = d.at(in[n], i, j);
            assertEquals(clip(deg + f * (in[n][i][j][c] - deg)), out[n][i][j][c], 1e-3,
                what + " image " + n + " (" + i + "," + j + "," + c + ")");
          }
        }
      }
    }
  }

  interface Degenerate {
    double at(float[][][] image, int i, int j);
  }

  @Test
  void brightnessBlendsWithBlack() {
    // Magnitude 8: factor 1.54, so bright pixels saturate at 255.
    float[][][][] out = apply("Brightness", 8);
    assertBlend(out, enhanceFactor(8), (im, i, j) -> 0, "Brightness");
    int saturated = 0;
    for (float[][][] a : out) for (float[][] b : a) for (float[] c : b) for (float v : c) {
      saturated += v == 255f ? 1 : 0;
    }
    assertTrue(saturated > 100, "clipping exercised: " + saturated);
  }

  @Test
  void colorBlendsWithGrayscale() {
    assertBlend(apply("Color", 2), enhanceFactor(2), (im, i, j) -> gray(im[i][j]), "Color");
  }

  @Test
  void contrastBlendsWithMeanGray() {
    // PIL's Contrast: the degenerate image is the mean of the grayscale image, per image.
    assertBlend(apply("Contrast", 9), enhanceFactor(9), (im, i, j) -> {
      double s = 0;
      for (float[][] row : im) for (float[] px : row) s += gray(px);
      return s / (H * W);
    }, "Contrast");
  }

  /** PIL ImageOps.equalize, one channel: the lookup table from the histogram, as PIL builds it. */
  static int[] equalizeLut(int[] h) {
    int[] lut = new int[256];
    int last = 0;
    int total = 0;
    for (int v = 0; v < 256; v++) {
      if (h[v] != 0) {
        last = h[v];
      }
      total += h[v];
    }
    int step = (total - last) / 255;
    if (step == 0) {
      for (int v = 0; v < 256; v++) lut[v] = v;
      return lut;
    }
    int n = step / 2;
    for (int v = 0; v < 256; v++) {
      lut[v] = Math.min(255, n / step);
      n += h[v];
    }
    return lut;
  }

  @Test
  void equalizeMatchesPil() {
    float[][][][] in = images();
    float[][][][] out = apply("Equalize", 5);
    int changed = 0;
    for (int n = 0; n < N; n++) {
      for (int c = 0; c < 3; c++) {
        int[] h = new int[256];
        for (float[][] row : in[n]) for (float[] px : row) h[(int) px[c]]++;
        int[] lut = equalizeLut(h);
        for (int i = 0; i < H; i++) {
          for (int j = 0; j < W; j++) {
            int v = (int) in[n][i][j][c];
            assertEquals(lut[v], out[n][i][j][c], 0f, "Equalize image " + n + " channel " + c);
            changed += lut[v] != v ? 1 : 0;
          }
        }
      }
    }
    assertTrue(changed > N * H * W, "equalization changed pixels: " + changed);
  }

  /**
   * Inverse mapping output pixel (x, y) -> input point, bilinear, neighbours outside the image read
   * the fill value 128 (ImageProjectiveTransformV3, CONSTANT fill, as DeepMind's wrap/unwrap).
   */
  interface Mapping {
    double[] source(double x, double y);
  }

  static double bilinear(float[][][] im, double x, double y, int c) {
    int x0 = (int) Math.floor(x);
    int y0 = (int) Math.floor(y);
    double fx = x - x0;
    double fy = y - y0;
    return (1 - fy) * ((1 - fx) * read(im, y0, x0, c) + fx * read(im, y0, x0 + 1, c))
        + fy * ((1 - fx) * read(im, y0 + 1, x0, c) + fx * read(im, y0 + 1, x0 + 1, c));
  }

  static double read(float[][][] im, int y, int x, int c) {
    return y >= 0 && y < H && x >= 0 && x < W ? im[y][x][c] : 128;
  }

  /** Max abs difference between image n of {@code out} and the reference transform of input n. */
  static double error(float[][][] in, float[][][] out, Mapping m) {
    double worst = 0;
    for (int i = 0; i < H; i++) {
      for (int j = 0; j < W; j++) {
        double[] p = m.source(j, i);
        for (int c = 0; c < 3; c++) {
          worst = Math.max(worst, Math.abs(clip(bilinear(in, p[0], p[1], c)) - out[i][j][c]));
        }
      }
    }
    return worst;
  }

  /** Every image matches the reference for sign +1 or -1; both signs occur over the batch. */
  static void assertGeometric(String op, int magnitude, java.util.function.DoubleFunction<Mapping>
      bySign) {
    float[][][][] in = images();
    float[][][][] out = apply(op, magnitude);
    int[] seen = new int[2];
    for (int n = 0; n < N; n++) {
      double plus = error(in[n], out[n], bySign.apply(1));
      double minus = error(in[n], out[n], bySign.apply(-1));
      double best = Math.min(plus, minus);
      assertTrue(best < 0.02, op + " image " + n + ": error " + plus + " (+) / " + minus + " (-)");
      assertTrue(Math.max(plus, minus) > 10, op + ": the two signs are distinguishable");
      seen[plus < minus ? 0 : 1]++;
    }
    assertTrue(seen[0] > 0 && seen[1] > 0, op + ": random sign, got " + seen[0] + "+/" + seen[1]
        + "-");
  }

  @Test
  void rotateTurnsAboutTheCentre() {
    // Magnitude 6: 18 degrees about the image centre ((W - 1) / 2, (H - 1) / 2).
    double deg = 6 / 10.0 * 30;
    double cx = (W - 1) / 2.0;
    double cy = (H - 1) / 2.0;
    assertGeometric("Rotate", 6, sign -> {
      double t = Math.toRadians(sign * deg);
      return (x, y) -> new double[] {
          cx + Math.cos(t) * (x - cx) - Math.sin(t) * (y - cy),
          cy + Math.sin(t) * (x - cx) + Math.cos(t) * (y - cy)};
    });
  }

  @Test
  void shearXAndShearY() {
    // Magnitude 5: shear level 0.15 (m / 10 * 0.3), PIL affine (1, level, 0, 0, 1, 0).
    double level = 5 / 10.0 * 0.3;
    assertGeometric("ShearX", 5, sign -> (x, y) -> new double[] {x + sign * level * y, y});
    assertGeometric("ShearY", 5, sign -> (x, y) -> new double[] {x, y + sign * level * x});
  }

  @Test
  void cutoutGreysOneSquarePerImage() {
    // Magnitude 5: half-side m / 10 * 40 px at 224 px, scaled: 0.5 * 40 / 224 * H (and W).
    double padH = 0.5 * 40 / 224 * H;
    double padW = 0.5 * 40 / 224 * W;
    float[][][][] in = images();
    float[][][][] out = apply("Cutout", 5);
    for (int n = 0; n < N; n++) {
      // The rows and columns of the square: [centre - pad, centre + pad) for an integer centre.
      boolean found = false;
      for (int cy = 0; cy < H && !found; cy++) {
        for (int cx = 0; cx < W && !found; cx++) {
          found = matchesCutout(in[n], out[n], cy - padH, cy + padH, cx - padW, cx + padW);
        }
      }
      assertTrue(found, "image " + n + " is the input with one grey (128) square of half-side "
          + padH + " x " + padW + " px");
    }
  }

  static boolean matchesCutout(float[][][] in, float[][][] out, double y0, double y1, double x0,
      double x1) {
    for (int i = 0; i < H; i++) {
      for (int j = 0; j < W; j++) {
        boolean inside = i >= y0 && i < y1 && j >= x0 && j < x1;
        for (int c = 0; c < 3; c++) {
          if (out[i][j][c] != (inside ? 128f : in[i][j][c])) {
            return false;
          }
        }
      }
    }
    return true;
  }
}
