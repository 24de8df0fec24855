package org.nfnet.training.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {
  @Test
  void bundledSubsetHeaderCountsAndKnownValues() {
    FashionMnist fm = FashionMnist.bundled();
    assertEquals(FashionMnist.Source.BUNDLED_SUBSET, fm.source());
    assertArrayEquals(new int[] {2000, 28, 28}, fm.trainImages().dims());
    assertArrayEquals(new int[] {2000}, fm.trainLabels().dims());
    assertArrayEquals(new int[] {500, 28, 28}, fm.testImages().dims());
    assertArrayEquals(new int[] {500}, fm.testLabels().dims());
    // first training example of Fashion-MNIST: an ankle boot (class 9)
    assertEquals(9, fm.trainLabels().get(0));
    assertEquals(204, fm.trainImages().get(0, 5, 15));
    assertEquals(236, fm.trainImages().get(0, 6, 15));
    assertEquals(0, fm.trainImages().get(0, 0, 0));
    assertEquals(9, fm.testLabels().get(0));
    assertEquals(2, fm.testLabels().get(1));
    int[] perClass = new int[10];
    for (int i = 0; i < 2000; i++) perClass[fm.trainLabels().get(i)]++;
    for (int c : perClass) assertEquals(200, c);
    int[] perClassTest = new int[10];
    for (int i = 0; i < 500; i++) perClassTest[fm.testLabels().get(i)]++;
    for (int c : perClassTest) assertEquals(50, c);
  }

  @Test
  void roundTripGzipAndPlain(@TempDir Path dir) throws IOException {
    byte[] data = new byte[2 * 3 * 4];
    for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 10);
    Path gz = dir.resolve("x.gz");
    Idx.writeGzip(gz, new int[] {2, 3, 4}, data);
    Idx.Array a = Idx.read(gz);
    assertArrayEquals(new int[] {2, 3, 4}, a.dims());
    assertEquals(230, a.get(1, 2, 3));
    assertEquals(12, a.itemSize());
    byte[] plain = {0, 0, 8, 1, 0, 0, 0, 3, 7, (byte) 255, 9};
    Idx.Array b = Idx.read(new ByteArrayInputStream(plain));
    assertArrayEquals(new int[] {3}, b.dims());
    assertEquals(255, b.get(1));
  }

  @Test
  void rejectsBadFiles(@TempDir Path dir) throws IOException {
    assertThrows(IOException.class,
        () -> Idx.read(new ByteArrayInputStream(new byte[] {1, 2, 8, 1, 0, 0, 0, 1, 0})));
    assertThrows(IOException.class, // float type
        () -> Idx.read(new ByteArrayInputStream(new byte[] {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0})));
    assertThrows(IOException.class, // truncated data
        () -> Idx.read(new ByteArrayInputStream(new byte[] {0, 0, 8, 1, 0, 0, 0, 5, 1, 2})));
    Path f = dir.resolve("bad");
    Files.write(f, new byte[] {0x1f, (byte) 0x8b, 0});
    assertThrows(IOException.class, () -> Idx.read(f));
  }

  @Test
  void loadPicksDebianFilesWhenPresent() {
    FashionMnist fm = FashionMnist.load("fashion-mnist");
    if (FashionMnist.hasIdxFiles(FashionMnist.DEBIAN_DIR)) {
      assertEquals(FashionMnist.Source.DEBIAN, fm.source());
      assertEquals(60000, fm.trainImages().count());
      assertEquals(10000, fm.testImages().count());
      assertEquals(9, fm.trainLabels().get(0));
      assertEquals(204, fm.trainImages().get(0, 5, 15));
    } else {
      assertEquals(FashionMnist.Source.BUNDLED_SUBSET, fm.source());
    }
    assertThrows(IllegalArgumentException.class, () -> FashionMnist.load("no-such-dataset"));
  }
}
