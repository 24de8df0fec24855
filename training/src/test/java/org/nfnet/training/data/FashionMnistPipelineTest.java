package org.nfnet.training.data;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;

class FashionMnistPipelineTest {
  static FashionMnist fm;

  @BeforeAll
  static void load() {
    fm = FashionMnist.bundled();
  }

  @Test
  void evalPassShapesOrderAndNormalisedMean() {
    // the split itself: the public eval() drops the one-hot targets this test checks
    Split test = fm.test(DataOptions.of(28));
    assertEquals(500, test.size());
    assertEquals(10, test.numClasses());
    InputSource eval = fm.input(DataOptions.of(28), 128, 0).eval();
    assertEquals(500, eval.size());
    assertEquals(10, eval.numClasses());
    double pixelMean = 0;
    for (byte b : fm.testImages().data()) pixelMean += b & 0xff;
    pixelMean /= fm.testImages().data().length;
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Batch b = test.build(Ops.create(g), 128, false, 0);
      assertArrayEquals(new long[] {-1, 28, 28, 3}, b.images().shape().asArray());
      Fetch.init(s, b);
      int seen = 0;
      double[] sum = new double[3];
      int[] sizes = new int[5];
      int k = 0;
      for (Fetch f; (f = Fetch.nextInPass(s, b)) != null; ) {
        assertEquals(Shape.of(f.n(), 28, 28, 3), f.shape());
        for (int i = 0; i < f.n(); i++) {
          assertEquals(fm.testLabels().get(seen + i), f.labels()[i], "eval keeps file order");
          assertEquals(1f, f.targets()[i * 10 + f.labels()[i]]);
        }
        for (int i = 0; i < f.images().length; i++) sum[i % 3] += f.images()[i];
        sizes[k++] = f.n();
        seen += f.n();
      }
      assertEquals(500, seen);
      assertArrayEquals(new int[] {128, 128, 128, 116, 0}, sizes);
      // 28 -> 28 resize is the identity, so the mean is exactly the normalised pixel mean
      for (int c = 0; c < 3; c++) {
        double expected = (pixelMean - Preprocess.MEAN_RGB[c]) / Preprocess.STDDEV_RGB[c];
        assertEquals(expected, sum[c] / (500.0 * 28 * 28), 1e-3, "channel " + c);
      }
      // a re-run of the initializer restarts the pass
      Fetch.init(s, b);
      assertEquals(fm.testLabels().get(0), Fetch.next(s, b).labels()[0]);
    }
  }

  @Test
  void trainingBatchesShapesRangesAndEpochCoverage() {
    InputSource train = fm.input(DataOptions.of(48), 500, 42);
    assertEquals(2000, train.size());
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Batch b = build(g, train);
      Fetch.init(s, b);
      int[] perClass = new int[10];
      double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE, sum = 0;
      for (int step = 0; step < 4; step++) { // 4 x 500 = exactly one epoch of 2,000
        Fetch f = Fetch.next(s, b);
        assertEquals(Shape.of(500, 48, 48, 3), f.shape());
        int[] batchClasses = new int[10];
        for (int l : f.labels()) {
          perClass[l]++;
          batchClasses[l]++;
        }
        for (int c = 0; c < 10; c++) {
          assertTrue(batchClasses[c] > 20 && batchClasses[c] < 80,
              "shuffled batch has a plausible class mix: " + java.util.Arrays.toString(batchClasses));
        }
        for (int i = 0; i < f.images().length; i += 3) {
          float v = f.images()[i];
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
          sum += v;
          // grayscale replicated: channels differ only through the per-channel normalisation
          float r = f.images()[i] * Preprocess.STDDEV_RGB[0] + Preprocess.MEAN_RGB[0];
          float gch = f.images()[i + 1] * Preprocess.STDDEV_RGB[1] + Preprocess.MEAN_RGB[1];
          assertEquals(r, gch, 1e-3f);
        }
      }
      for (int c = 0; c < 10; c++) assertEquals(200, perClass[c], "one epoch sees every example once");
      assertEquals(-Preprocess.MEAN_RGB[0] / Preprocess.STDDEV_RGB[0], lo, 1e-4, "black pixels");
      assertTrue(hi > 2.0 && hi <= (255 - Preprocess.MEAN_RGB[0]) / Preprocess.STDDEV_RGB[0] + 1e-4);
      double mean = sum / (4.0 * 500 * 48 * 48);
      assertTrue(mean > -1.6 && mean < -0.6, "normalised red mean " + mean);
      Fetch next = Fetch.next(s, b); // repeats forever
      assertEquals(500, next.n());
    }
  }

  @Test
  void sameSeedSameBatchesDifferentSeedDifferentBatches() {
    DataOptions o = DataOptions.of(32).withAugment(Augment.deepMind("405"));
    Fetch a1 = firstTwo(o, 7)[1];
    Fetch a2 = firstTwo(o, 7)[1];
    Fetch b1 = firstTwo(o, 8)[1];
    assertArrayEquals(a1.labels(), a2.labels());
    assertArrayEquals(a1.images(), a2.images());
    assertArrayEquals(a1.targets(), a2.targets());
    assertFalse(java.util.Arrays.equals(a1.images(), b1.images()));
  }

  @Test
  void resumingAtAStepGivesTheSameStream() {
    // 600 inputs/step: step 3 crosses an epoch
    InputSource train = fm.input(DataOptions.of(32).withAugment(Augment.deepMind("203")), 300, 5);
    Fetch[] fresh = new Fetch[4];
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Batch b = build(g, train);
      Fetch.init(s, b);
      for (int i = 0; i < 4; i++) fresh[i] = Fetch.next(s, b);
    }
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Batch b = build(g, train.startingAt(2));
      Fetch.init(s, b);
      for (int i = 2; i < 4; i++) {
        Fetch f = Fetch.next(s, b);
        assertArrayEquals(fresh[i].labels(), f.labels(), "step " + i);
        assertArrayEquals(fresh[i].targets(), f.targets(), "step " + i);
        assertArrayEquals(fresh[i].images(), f.images(), "step " + i);
      }
    }
  }

  @Test
  void deepMindAugmentationGivesSoftTargetsSummingToOne() {
    Fetch f = firstTwo(DataOptions.of(32).withAugment(Augment.deepMind("405")), 3)[0];
    assertEquals(Shape.of(64, 32, 32, 3), f.shape());
    int soft = 0;
    for (int i = 0; i < 64; i++) {
      double rowSum = 0;
      float max = 0;
      int arg = -1;
      for (int c = 0; c < 10; c++) {
        float t = f.targets()[i * 10 + c];
        assertTrue(t >= -1e-6 && t <= 1 + 1e-6);
        rowSum += t;
        if (t > max) {
          max = t;
          arg = c;
        }
      }
      assertEquals(1.0, rowSum, 1e-5);
      assertEquals(arg, f.labels()[i], "label = dominant target class");
      if (max < 0.999f) soft++;
    }
    assertTrue(soft > 0, "MixUp/CutMix produced soft targets");
    for (float v : f.images()) assertTrue(Float.isFinite(v));
  }

  /** The input's batches in {@code g} (training batches do not depend on the step operand). */
  static Batch build(Graph g, InputSource input) {
    Ops tf = Ops.create(g);
    return input.build(tf, tf.constant(0L));
  }

  private static Fetch[] firstTwo(DataOptions options, long seed) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Batch b = build(g, fm.input(options, 64, seed));
      // training batches have fully static shapes (the trainer can size its graph from them)
      assertEquals(Shape.of(64, 32, 32, 3), b.images().shape());
      assertEquals(Shape.of(64), b.labels().shape());
      assertEquals(Shape.of(64, 10), b.targets().shape());
      Fetch.init(s, b);
      return new Fetch[] {Fetch.next(s, b), Fetch.next(s, b)};
    }
  }
}
