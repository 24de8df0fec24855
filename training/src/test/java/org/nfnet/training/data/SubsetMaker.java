package org.nfnet.training.data;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Regenerates the bundled {@code fashion-mnist-subset/} resources from the full Debian files: the
 * first {@code perClassTrain} (200) train and {@code perClassTest} (50) test images of every class,
 * in original file order, written as gzipped IDX with the original file names.
 *
 * <pre>java ... org.nfnet.training.data.SubsetMaker [srcDir] [outDir] [perClassTrain] [perClassTest]</pre>
 */
public final class SubsetMaker {
  private SubsetMaker() {}

  public static void main(String[] args) throws Exception {
    Path src = Path.of(args.length > 0 ? args[0] : FashionMnist.DEBIAN_DIR.toString());
    Path out = Path.of(args.length > 1 ? args[1]
        : "training/src/main/resources/fashion-mnist-subset");
    int perTrain = args.length > 2 ? Integer.parseInt(args[2]) : 200;
    int perTest = args.length > 3 ? Integer.parseInt(args[3]) : 50;
    FashionMnist full = FashionMnist.fromDirectory(src, FashionMnist.Source.DIRECTORY);
    Files.createDirectories(out);
    write(full.trainImages(), full.trainLabels(), perTrain, out, FashionMnist.TRAIN_IMAGES,
        FashionMnist.TRAIN_LABELS);
    write(full.testImages(), full.testLabels(), perTest, out, FashionMnist.TEST_IMAGES,
        FashionMnist.TEST_LABELS);
  }

  static void write(Idx.Array images, Idx.Array labels, int perClass, Path out, String imgName,
      String labName) throws Exception {
    int classes = 10;
    int item = images.itemSize();
    int[] taken = new int[classes];
    byte[] img = new byte[perClass * classes * item];
    byte[] lab = new byte[perClass * classes];
    int n = 0;
    for (int i = 0; i < images.count() && n < lab.length; i++) {
      int c = labels.data()[i] & 0xff;
      if (taken[c] >= perClass) continue;
      taken[c]++;
      System.arraycopy(images.data(), i * item, img, n * item, item);
      lab[n++] = (byte) c;
    }
    if (n != lab.length) throw new IllegalStateException("not enough examples per class");
    Idx.writeGzip(out.resolve(imgName + ".gz"), new int[] {n, images.dims()[1], images.dims()[2]}, img);
    Idx.writeGzip(out.resolve(labName + ".gz"), new int[] {n}, lab);
    System.out.printf("%s: %d images%n", out.resolve(imgName + ".gz"), n);
  }
}
