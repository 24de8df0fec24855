package org.nfnet.training.data;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

class RandAugmentTest {
  static final int N = 16, S = 32;

  /** A batch of varied RGB images in 0..255 (gradients + a bright square). */
  static float[][][][] batch() {
    float[][][][] x = new float[N][S][S][3];
    for (int n = 0; n < N; n++)
      for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
          x[n][i][j][0] = (i * 7 + n * 13) % 200 + 20;
          x[n][i][j][1] = (j * 5 + n * 3) % 180 + 40;
          x[n][i][j][2] = (i >= 8 && i < 20 && j >= 10 && j < 22) ? 250 : 30 + n;
        }
    return x;
  }

  static float[] flat(float[][][][] x) {
    float[] f = new float[N * S * S * 3];
    int k = 0;
    for (float[][][] a : x) for (float[][] b : a) for (float[] c : b) for (float v : c) f[k++] = v;
    return f;
  }

  @Test
  void preservesShapeRangeAndChangesPixels() {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> x = tf.constant(batch());
      Operand<TFloat32> y = RandAugment.apply(tf, x, "405", 1);
      Operand<TFloat32> y2 = RandAugment.apply(tf, x, "405", 1);
      Operand<TFloat32> y3 = RandAugment.apply(tf, x, "405", 2);
      assertEquals(x.shape(), y.shape());
      float[] in = flat(batch());
      float[] out = Fetch.eval(s, y);
      assertEquals(in.length, out.length);
      int changed = 0;
      double diff = 0;
      int per = S * S * 3;
      for (int n = 0; n < N; n++) {
        double d = 0;
        for (int k = n * per; k < (n + 1) * per; k++) {
          assertTrue(out[k] >= 0f && out[k] <= 255f, "in range");
          d += Math.abs(out[k] - in[k]);
        }
        if (d / per > 0.5) changed++;
        diff += d;
      }
      assertTrue(changed >= N / 2, "most images changed at magnitude 5: " + changed);
      assertTrue(diff / in.length > 5, "mean abs change " + diff / in.length);
      assertArrayEquals(out, Fetch.eval(s, y2), "same seed, same result");
      assertFalse(java.util.Arrays.equals(out, Fetch.eval(s, y3)), "other seed differs");
    }
  }

  @Test
  void levelParsing() {
    assertArrayEquals(new int[] {4, 5}, RandAugment.parseLevel("405"));
    assertArrayEquals(new int[] {2, 10}, RandAugment.parseLevel("210"));
    assertArrayEquals(new int[] {2, 9}, RandAugment.parseLevel("29"));
    assertThrows(IllegalArgumentException.class, () -> RandAugment.parseLevel("x"));
    assertThrows(IllegalArgumentException.class, () -> new Augment("4a5", 0, false));
  }

  private static float[] op(String name, int magnitude) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      return Fetch.eval(s, RandAugment.applyOp(tf, tf.constant(batch()),
          RandAugment.OPS.indexOf(name), magnitude, 5));
    }
  }

  @Test
  void individualOps() {
    float[] in = flat(batch());
    float[] inv = op("Invert", 5);
    for (int k = 0; k < in.length; k++) assertEquals(255f - in[k], inv[k], 1e-4);
    float[] sol = op("Solarize", 5); // threshold 128
    for (int k = 0; k < in.length; k++) {
      assertEquals(in[k] < 128 ? in[k] : 255 - in[k], sol[k], 1e-4);
    }
    float[] post = op("Posterize", 10); // 4 bits kept
    for (int k = 0; k < in.length; k++) assertEquals(Math.floor(in[k] / 16) * 16, post[k], 1e-4);
    float[] bright = op("Brightness", 5); // factor 5/10*1.8+0.1 = 1.0: identity
    for (int k = 0; k < in.length; k++) assertEquals(in[k], bright[k], 1e-3);
    float[] rot0 = op("Rotate", 0); // 0 degrees: identity
    for (int k = 0; k < in.length; k++) assertEquals(in[k], rot0[k], 1e-3);
    float[] ac = op("AutoContrast", 5);
    float lo = 255, hi = 0;
    for (int k = 0; k < S * S * 3; k += 3) {
      lo = Math.min(lo, ac[k]);
      hi = Math.max(hi, ac[k]);
    }
    assertEquals(0f, lo, 1e-3);
    assertEquals(255f, hi, 1e-3);
    float[] tx = op("TranslateX", 10); // ~14 px shift at 32 px: a band of fill value 128 appears
    int fill = 0;
    for (int k = 0; k < S * S * 3; k++) if (tx[k] == 128f) fill++;
    assertTrue(fill > S * 10 * 3, "fill pixels " + fill);
    float[] sharp = op("Sharpness", 10); // factor 1.9: border kept, inside = 1.9*x - 0.9*smooth(x)
    int base = (5 * S + 7) * 3; // pixel (5, 7) channel 0 of image 0
    double sm = 4 * in[base];
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) sm += in[base + (dy * S + dx) * 3];
    sm /= 13;
    assertEquals(Math.min(255, Math.max(0, sm + 1.9 * (in[base] - sm))), sharp[base], 1e-3);
    assertEquals(in[0], sharp[0], 1e-4);
    float[] eq = op("Equalize", 5);
    for (float v : eq) assertTrue(v >= 0 && v <= 255 && v == Math.rint(v));
    for (String name : RandAugment.OPS) {
      float[] o = op(name, 7);
      assertEquals(in.length, o.length, name);
      for (float v : o) assertTrue(v >= 0f && v <= 255f && Float.isFinite(v), name);
    }
  }
}
