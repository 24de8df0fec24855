package org.nfnet.training.data;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

class MixCutTest {
  static final int N = 6, H = 8, W = 10;

  /** Image i is constant 10*i, its target is one-hot i. */
  static Operand<TFloat32> images(Ops tf) {
    float[][][][] x = new float[N][H][W][3];
    for (int i = 0; i < N; i++)
      for (float[][] row : x[i]) for (float[] px : row) java.util.Arrays.fill(px, 10f * i);
    return tf.constant(x);
  }

  static Operand<TFloat32> targets(Ops tf) {
    float[][] t = new float[N][N];
    for (int i = 0; i < N; i++) t[i][i] = 1f;
    return tf.constant(t);
  }

  static final int B = N / 2; // output examples: i mixes input i with input i + B

  @Test
  void mixupMixesImagesAndTargetsWithTheSameRatio() {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      int seeds = 100;
      List<MixCut.Mixed> ms = new ArrayList<>();
      for (int k = 0; k < seeds; k++) ms.add(MixCut.mixup(tf, images(tf), targets(tf), 0.2f, k));
      assertEquals(B, ms.get(0).images().shape().get(0));
      double sumR = 0;
      int middle = 0, distinct = 0;
      float[] allImg = Fetch.eval(s, tf.stack(ms.stream().map(MixCut.Mixed::images).toList()));
      float[] allT = Fetch.eval(s, tf.stack(ms.stream().map(MixCut.Mixed::targets).toList()));
      int per = H * W * 3;
      for (int k = 0; k < seeds; k++) {
        float[] img = Arrays.copyOfRange(allImg, k * B * per, (k + 1) * B * per);
        float[] t = Arrays.copyOfRange(allT, k * B * N, (k + 1) * B * N);
        for (int i = 0; i < B; i++) {
          int partner = i + B;
          float r = t[i * N + i];
          double rowSum = 0;
          for (int c = 0; c < N; c++) rowSum += t[i * N + c];
          assertEquals(1.0, rowSum, 1e-5);
          assertEquals(1 - r, t[i * N + partner], 1e-6);
          float expected = r * 10 * i + (1 - r) * 10 * partner;
          assertEquals(expected, img[i * per], 1e-3);
          assertEquals(expected, img[(i + 1) * per - 1], 1e-3);
          sumR += r;
          if (r > 0.1 && r < 0.9) middle++;
        }
        if (t[0] != t[N + 1]) distinct++;
      }
      double mean = sumR / (seeds * B);
      assertTrue(mean > 0.4 && mean < 0.6, "Beta(0.2,0.2) mean ~0.5, got " + mean);
      assertTrue(middle < 0.65 * seeds * B, "Beta(0.2,0.2) is U-shaped: " + middle);
      assertTrue(distinct > seeds / 2, "ratios are drawn per example");
    }
  }

  @Test
  void cutmixTargetsMatchThePastedArea() {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      List<MixCut.Mixed> ms = new ArrayList<>();
      for (int k = 0; k < 20; k++) ms.add(MixCut.cutmix(tf, images(tf), targets(tf), 1000 + k));
      boolean sawPartial = false;
      float[] allImg = Fetch.eval(s, tf.stack(ms.stream().map(MixCut.Mixed::images).toList()));
      float[] allT = Fetch.eval(s, tf.stack(ms.stream().map(MixCut.Mixed::targets).toList()));
      int per = H * W * 3;
      for (int k = 0; k < ms.size(); k++) {
        float[] img = Arrays.copyOfRange(allImg, k * B * per, (k + 1) * B * per);
        float[] t = Arrays.copyOfRange(allT, k * B * N, (k + 1) * B * N);
        for (int i = 0; i < B; i++) {
          int partner = i + B;
          int own = 0;
          for (int p = 0; p < H * W; p++) {
            float v = img[(i * H * W + p) * 3];
            if (v == 10f * i) own++;
            else assertEquals(10f * partner, v, "pixel comes from one of the two images");
          }
          double kept = own / (double) (H * W);
          assertEquals(kept, t[i * N + i], 1e-6);
          assertEquals(1 - kept, t[i * N + partner], 1e-6);
          if (kept > 0 && kept < 1) sawPartial = true;
        }
      }
      assertTrue(sawPartial);
    }
  }
}
