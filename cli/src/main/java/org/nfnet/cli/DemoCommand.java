package org.nfnet.cli;

import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.training.OneDnnWeightCache;
import org.nfnet.training.Trainer;
import org.nfnet.training.data.FashionMnist;
import org.nfnet.training.data.Idx;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code nfnet demo}: the whole toolkit in a few minutes, with nothing to download. Trains a
 * small NFNet ({@code variants/nano.json}, embedded) with SGD + AGC on Fashion-MNIST (Debian's
 * package files when installed, else the subset bundled in the jar), evaluates it, exports the EMA
 * weights as a SavedModel, reloads that SavedModel and classifies a few test images.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Train a small NFNet on Fashion-MNIST, export, reload and predict (a few minutes).")
final class DemoCommand implements Callable<Integer> {
  /** The demo's variant, embedded so the demo needs no file from the repository. */
  static final String NANO = "{\"name\":\"nano\",\"width\":[32,64,128,128],\"depth\":[1,1,1,1],"
      + "\"group_width\":[16,16,16,16],\"train_imsize\":32,\"test_imsize\":32,\"drop_rate\":0.1,"
      + "\"num_classes\":10}";

  @Spec CommandSpec spec;

  @Option(names = "--out", defaultValue = "runs/demo",
      description = "Run directory; a previous demo run there is replaced (default ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--steps", defaultValue = "1500", description = "Training steps (default ${DEFAULT-VALUE}).")
  long steps;

  @Option(names = "--data", defaultValue = "fashion-mnist",
      description = "fashion-mnist (Debian files, else the bundled subset) or fashion-mnist-subset.")
  String data;

  @Override
  public Integer call() throws Exception {
    PrintWriter o = spec.commandLine().getOut();
    // Before anything is written: a run that cannot train must leave no directory behind.
    OneDnnWeightCache.refuseForTraining(System.getenv());
    long t0 = System.nanoTime();
    if (Files.isRegularFile(out.resolve("run.json")) && Files.exists(out.resolve("checkpoints"))) {
      o.printf("replacing the previous demo run in %s%n", out);
      deleteRecursively(out);
    } else if (Files.exists(out) && Files.list(out).findAny().isPresent()) {
      throw new IllegalArgumentException(out + " exists and is not a demo run; choose another --out");
    }
    Files.createDirectories(out);
    Path variant = out.resolve("nano.json");
    Files.writeString(variant, NANO);

    o.println("== 1/3  Train a small NFNet with SGD + Nesterov + Adaptive Gradient Clipping");
    o.flush();
    TrainCommand.Settings s = new TrainCommand.Settings(variant.toString(), data, 64, steps, null,
        out, false, 0.4, 0.02, 2e-5, 0.2, 0.999, null, "none", true, false, false, false, null,
        (int) Math.max(1, steps / 5), 0, 500, null, -1, 0L, true, true);
    TrainingRun.Result r = TrainingRun.run(s, o);
    if (r.status() != Trainer.Status.COMPLETED || r.export() == null) {
      o.println("demo: training did not complete; see above");
      return 1;
    }

    o.println();
    o.println("== 2/3  Reload the exported SavedModel (a fresh TF session, as a server would)");
    try (NFNetModel model = NFNetModel.load(r.export())) {
      o.printf("loaded %s: %s, %d classes, signatures serving_default / encoded / "
          + "logits_from_normalized / features%n", r.export(), model.variant(), model.numClasses());
      o.println();
      o.println("== 3/3  Classify test images through serving_default (uint8 in, labels out)");
      FashionMnist fm = FashionMnist.load(data);
      Idx.Array images = fm.testImages();
      Idx.Array labels = fm.testLabels();
      int correct = 0;
      int shown = 8;
      for (int k = 0; k < shown; k++) {
        int i = k * (images.count() / shown);
        List<NFNetModel.Prediction> p = model.predict(grayscale(images, i));
        String truth = FashionMnist.CLASS_NAMES.get(labels.get(i));
        boolean ok = p.get(0).label().equals(truth);
        correct += ok ? 1 : 0;
        o.printf(Locale.ROOT, "  test image %5d  true: %-12s predicted: %-12s %5.1f%%  %s%n", i, truth,
            p.get(0).label(), 100 * p.get(0).probability(), ok ? "ok" : "wrong");
      }
      o.printf("  %d of %d correct%n", correct, shown);
    }
    o.println();
    o.printf(Locale.ROOT, "demo finished in %.0f s. Next:%n", (System.nanoTime() - t0) / 1e9);
    o.printf("  tensorboard --logdir %s%n", out.resolve("tensorboard").toAbsolutePath());
    o.printf("  ./nfnet predict --model %s IMAGE.png%n", r.export());
    o.printf("  ./nfnet serve --model %s%n", r.export());
    o.flush();
    return 0;
  }

  static BufferedImage grayscale(Idx.Array images, int index) {
    int h = images.dims()[1];
    int w = images.dims()[2];
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int v = images.get(index, y, x);
        img.getRaster().setSample(x, y, 0, v);
      }
    }
    return img;
  }

  private static void deleteRecursively(Path p) throws java.io.IOException {
    try (var s = Files.walk(p)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
    }
  }
}
