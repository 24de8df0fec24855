package org.nfnet.training.data;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.zoo.preprocess.EvalPreprocessing;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;

class ImageFolderTest {
  @TempDir static Path root;
  static final int[][] COLOURS = {{200, 30, 30}, {30, 200, 30}, {30, 30, 200}};

  static BufferedImage solid(int w, int h, int[] rgb) {
    BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) im.setRGB(x, y, (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]);
    return im;
  }

  static BufferedImage gradient(int w, int h) {
    BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) im.setRGB(x, y, ((x * 5) % 256 << 16) | ((y * 7) % 256 << 8) | 90);
    return im;
  }

  @BeforeAll
  static void makeTree() throws IOException {
    // classes listed out of order on purpose: index = sorted position (ant 0, bee 1, cat 2)
    for (String c : List.of("cat", "ant", "bee")) Files.createDirectories(root.resolve(c));
    for (int i = 1; i <= 3; i++) {
      ImageIO.write(solid(40, 30, COLOURS[0]), "png", root.resolve("ant/a" + i + ".png").toFile());
    }
    ImageIO.write(solid(50, 20, COLOURS[1]), "jpg", root.resolve("bee/b1.jpg").toFile());
    ImageIO.write(solid(33, 47, COLOURS[1]), "jpg", root.resolve("bee/b2.JPG").toFile());
    ImageIO.write(solid(64, 64, COLOURS[1]), "png", root.resolve("bee/b3.png").toFile());
    ImageIO.write(solid(20, 60, COLOURS[2]), "png", root.resolve("cat/c1.png").toFile());
    ImageIO.write(solid(60, 20, COLOURS[2]), "png", root.resolve("cat/c2.png").toFile());
    ImageIO.write(gradient(45, 37), "png", root.resolve("cat/c3_gradient.png").toFile());
    // corrupt files: random bytes, a truncated JPEG (both caught by the host pre-pass) ...
    byte[] junk = new byte[500];
    new Random(1).nextBytes(junk);
    Files.write(root.resolve("ant/broken.jpg"), junk);
    byte[] jpg = Files.readAllBytes(root.resolve("bee/b1.jpg"));
    Files.write(root.resolve("bee/truncated.jpg"), Arrays.copyOf(jpg, jpg.length / 2));
    // ... and a file with a valid PNG signature and IEND marker but garbage inside: passes the
    // cheap check, fails to decode in the graph, dropped by IgnoreErrorsDataset
    byte[] fake = new byte[200];
    new Random(2).nextBytes(fake);
    System.arraycopy(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10}, 0, fake, 0, 8);
    System.arraycopy("IEND".getBytes(), 0, fake, 190, 4);
    Files.write(root.resolve("cat/zz_fake.png"), fake);
    Files.writeString(root.resolve("cat/notes.txt"), "not an image");
  }

  @Test
  void listingClassMappingAndSkippedFiles() {
    ImageFolder d = ImageFolder.open(root, DataOptions.of(24));
    assertEquals(List.of("ant", "bee", "cat"), d.classNames());
    assertEquals(3, d.numClasses());
    assertEquals(10, d.size()); // 9 real images + the fake PNG; txt ignored
    assertEquals(2, d.skipped().size());
    assertTrue(d.skipped().contains(root.resolve("ant/broken.jpg")));
    assertTrue(d.skipped().contains(root.resolve("bee/truncated.jpg")));
    assertArrayEquals(new int[] {0, 0, 0, 1, 1, 1, 2, 2, 2, 2}, d.labels());
    assertEquals(root.resolve("ant/a1.png"), d.files().get(0));
  }

  @Test
  void inputAtABatchSizeEvaluatesOnAFolderWithTheSameClasses(@TempDir Path other) throws IOException {
    ImageFolder d = ImageFolder.open(root, DataOptions.of(24));
    InputSource in = d.input(4, 1, d);
    assertEquals(4, in.batchSize());
    assertEquals(10, in.size());
    assertEquals(3, in.numClasses());
    assertEquals(10, in.eval().size());
    assertNull(in.eval().eval(), "the eval split has no eval split");
    assertNull(d.input(4, 1, null).eval());
    for (String c : List.of("ant", "bee")) {
      Files.createDirectories(other.resolve(c));
      ImageIO.write(solid(20, 20, COLOURS[0]), "png", other.resolve(c + "/x.png").toFile());
    }
    ImageFolder two = ImageFolder.open(other, DataOptions.of(24));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> d.input(4, 1, two));
    assertTrue(e.getMessage().contains(other + " has classes [ant, bee]"), e.getMessage());
  }

  @Test
  void evalPassMatchesDeepMindPreprocessingAndSkipsUndecodable() {
    int size = 24;
    ImageFolder d = ImageFolder.open(root, DataOptions.of(size));
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Batch b = d.build(tf, 4, false, 0);
      // reference: the zoo's eval preprocessing on the gradient image's bytes
      var ref = new EvalPreprocessing(size).applyEncoded(tf, tf.reshape(
          tf.io.readFile(tf.constant(root.resolve("cat/c3_gradient.png").toString())),
          tf.constant(new int[] {1})));
      Fetch.init(s, b);
      int seen = 0;
      int[] labels = new int[16];
      float[] gradientOut = null;
      for (Fetch f; (f = Fetch.nextInPass(s, b)) != null; ) {
        assertEquals(Shape.of(f.n(), size, size, 3), f.shape());
        int per = size * size * 3;
        for (int i = 0; i < f.n(); i++) {
          int idx = seen + i;
          labels[idx] = f.labels()[i];
          if (idx == 8) {
            gradientOut = Arrays.copyOfRange(f.images(), i * per, (i + 1) * per);
            continue;
          }
          int[] c = COLOURS[f.labels()[i]];
          float tol = f.labels()[i] == 1 && idx < 5 ? 0.08f : 1e-3f; // JPEGs are lossy
          for (int k = i * per; k < (i + 1) * per; k++) {
            int ch = k % 3;
            float expected = (c[ch] - Preprocess.MEAN_RGB[ch]) / Preprocess.STDDEV_RGB[ch];
            assertEquals(expected, f.images()[k], tol, "example " + idx);
          }
        }
        seen += f.n();
      }
      assertEquals(9, seen, "the undecodable fake PNG is dropped, the run goes on");
      assertArrayEquals(new int[] {0, 0, 0, 1, 1, 1, 2, 2, 2}, Arrays.copyOf(labels, 9));
      float[] expected = Fetch.eval(s, ref);
      assertNotNull(gradientOut);
      assertEquals(expected.length, gradientOut.length);
      for (int k = 0; k < expected.length; k++) assertEquals(expected[k], gradientOut[k], 1e-4);
    }
  }

  @Test
  void resumingAtAStepGivesTheSameStream(@TempDir Path clean) throws IOException {
    for (String c : List.of("x", "y")) {
      Files.createDirectories(clean.resolve(c));
      for (int i = 0; i < 3; i++) {
        ImageIO.write(gradient(30 + 7 * i, 41 - 5 * i), "png", clean.resolve(c + "/" + i + ".png").toFile());
      }
    }
    ImageFolder d = ImageFolder.open(clean, DataOptions.of(16).withAugment(Augment.deepMind("202")));
    Fetch[] fresh = new Fetch[4];
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Batch b = FashionMnistPipelineTest.build(g, d.input(2, 9, null));
      Fetch.init(s, b);
      for (int i = 0; i < 4; i++) fresh[i] = Fetch.next(s, b);
    }
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Batch b = FashionMnistPipelineTest.build(g, d.input(2, 9, null).startingAt(3));
      Fetch.init(s, b);
      Fetch f = Fetch.next(s, b);
      assertArrayEquals(fresh[3].labels(), f.labels());
      assertArrayEquals(fresh[3].targets(), f.targets());
      assertArrayEquals(fresh[3].images(), f.images());
    }
  }

  @Test
  void trainingPipelineRepeatsWithAugmentation() {
    ImageFolder d = ImageFolder.open(root,
        DataOptions.of(24, 24).withAugment(Augment.deepMind("203")).withParallelCalls(2));
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Batch b = FashionMnistPipelineTest.build(g, d.input(4, 11, null));
      Fetch.init(s, b);
      int[] perClass = new int[3];
      for (int step = 0; step < 6; step++) { // 24 examples > 2 epochs of 9 decodable images
        Fetch f = Fetch.next(s, b);
        assertEquals(Shape.of(4, 24, 24, 3), f.shape());
        for (int i = 0; i < 4; i++) {
          double sum = 0;
          for (int c = 0; c < 3; c++) sum += f.targets()[i * 3 + c];
          assertEquals(1.0, sum, 1e-5);
          perClass[f.labels()[i]]++;
        }
        for (float v : f.images()) assertTrue(Float.isFinite(v) && Math.abs(v) < 5f);
      }
      for (int c : perClass) assertTrue(c > 0);
    }
  }
}
