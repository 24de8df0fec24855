package org.nfnet.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.nfnet.training.data.DataOptions;
import org.nfnet.training.data.FashionMnist;
import org.nfnet.training.data.ImageFolder;
import org.nfnet.training.data.InputSource;

/**
 * Resolves {@code --data}: {@code fashion-mnist} (Debian's package files, else the bundled
 * subset), {@code fashion-mnist-subset}, or an image folder (one sub-folder per class; with
 * {@code train/} and {@code val/} or {@code test/} splits when present).
 *
 * @param input the training stream at {@code --batch} and {@code --seed}; its {@link
 *     InputSource#eval()} is the evaluation split, or null
 * @param cropPadding the eval preprocessing the exported model should use (0: plain resize, as the
 *     Fashion-MNIST pipeline evaluates; 32: DeepMind's resize_crop_32, as image folders do)
 */
record TrainingData(InputSource input, List<String> classNames, String description,
    int cropPadding) {

  static TrainingData resolve(String data, DataOptions options, int batch, long seed) {
    if (data.startsWith("fashion-mnist")) {
      FashionMnist fm = FashionMnist.load(data);
      return new TrainingData(fm.input(options, batch, seed), FashionMnist.CLASS_NAMES,
          fm.description(), 0);
    }
    Path root = Path.of(data);
    if (!Files.isDirectory(root)) {
      throw new UserException("--data " + data
          + ": not 'fashion-mnist', 'fashion-mnist-subset' or an image folder");
    }
    Path trainDir = Files.isDirectory(root.resolve("train")) ? root.resolve("train") : root;
    Path evalDir = null;
    for (String name : List.of("val", "validation", "test")) {
      if (trainDir != root && Files.isDirectory(root.resolve(name))) {
        evalDir = root.resolve(name);
        break;
      }
    }
    ImageFolder train = ImageFolder.open(trainDir, options);
    checkClasses(train, trainDir);
    ImageFolder test = evalDir != null ? ImageFolder.open(evalDir, options) : null;
    InputSource input = train.input(batch, seed, test);
    String desc = "image folder " + trainDir + " (" + train.size() + " images, "
        + train.numClasses() + " classes)" + (test != null ? ", eval " + evalDir : ", no eval split");
    return new TrainingData(input, train.classNames(), desc, 32);
  }

  /** A classifier needs two classes, each with images: an empty folder would be a dead output. */
  private static void checkClasses(ImageFolder folder, Path dir) {
    if (folder.numClasses() < 2) {
      throw new UserException("--data " + dir + " has a single class folder (" + folder.classNames()
          + "): a classifier needs at least 2 (one sub-folder of images per class)");
    }
    int[] counts = folder.classCounts();
    List<String> empty = new java.util.ArrayList<>();
    for (int c = 0; c < counts.length; c++) {
      if (counts[c] == 0) {
        empty.add(folder.classNames().get(c));
      }
    }
    if (!empty.isEmpty()) {
      throw new UserException("--data " + dir + ": class folder(s) " + empty + " have no usable "
          + "images (JPEG/PNG/GIF/BMP); remove them or add images");
    }
  }
}
