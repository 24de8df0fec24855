package org.nfnet.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.nfnet.training.data.DataOptions;
import org.nfnet.training.data.Dataset;
import org.nfnet.training.data.FashionMnist;
import org.nfnet.training.data.ImageFolder;

/**
 * Resolves {@code --data}: {@code fashion-mnist} (Debian's package files, else the bundled
 * subset), {@code fashion-mnist-subset}, or an image folder (one sub-folder per class; with
 * {@code train/} and {@code val/} or {@code test/} splits when present).
 *
 * @param cropPadding the eval preprocessing the exported model should use (0: plain resize, as the
 *     Fashion-MNIST pipeline evaluates; 32: DeepMind's resize_crop_32, as image folders do)
 */
record TrainingData(Dataset train, Dataset test, List<String> classNames, String description,
    int cropPadding) {

  static TrainingData resolve(String data, DataOptions options) {
    if (data.startsWith("fashion-mnist")) {
      FashionMnist fm = FashionMnist.load(data);
      return new TrainingData(fm.train(options), fm.test(options), FashionMnist.CLASS_NAMES,
          fm.description(), 0);
    }
    Path root = Path.of(data);
    if (!Files.isDirectory(root)) {
      throw new IllegalArgumentException("--data " + data
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
    ImageFolder test = evalDir != null ? ImageFolder.open(evalDir, options) : null;
    if (test != null && !test.classNames().equals(train.classNames())) {
      throw new IllegalArgumentException(evalDir + " has classes " + test.classNames()
          + " but " + trainDir + " has " + train.classNames());
    }
    String desc = "image folder " + trainDir + " (" + train.size() + " images, "
        + train.numClasses() + " classes)" + (test != null ? ", eval " + evalDir : ", no eval split");
    return new TrainingData(train, test, train.classNames(), desc, 32);
  }
}
