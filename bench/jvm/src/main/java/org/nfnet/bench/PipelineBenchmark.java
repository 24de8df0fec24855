package org.nfnet.bench;

import java.util.ArrayList;
import java.util.List;
import org.nfnet.training.data.Augment;
import org.nfnet.training.data.Batch;
import org.nfnet.training.data.DataOptions;
import org.nfnet.training.data.FashionMnist;
import org.nfnet.training.data.ImageFolder;
import org.nfnet.training.data.InputSource;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;

/**
 * Throughput of the training pipeline (Fashion-MNIST by default, or an image folder) (not a unit test). Each step runs the
 * iterator's {@code IteratorGetNext} as a target, so the numbers exclude copying batches to Java.
 *
 * <pre>
 * java -cp ... org.nfnet.bench.PipelineBenchmark [sizes=64,192] [batch=64] [steps=30]
 *     [source=fashion-mnist | fashion-mnist-subset | IDX directory | folder:/path/to/class/folders]
 * </pre>
 *
 * For every size it measures: no augmentation, and DeepMind's augmentation (RandAugment 405 +
 * MixUp/CutMix).
 */
public final class PipelineBenchmark {
  private PipelineBenchmark() {}

  public static void main(String[] args) {
    List<Integer> sizes = new ArrayList<>();
    for (String s : (args.length > 0 ? args[0] : "64,192").split(",")) sizes.add(Integer.parseInt(s));
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    int steps = args.length > 2 ? Integer.parseInt(args[2]) : 30;
    String source = args.length > 3 ? args[3] : "fashion-mnist";
    java.util.function.Function<DataOptions, InputSource> train;
    String description;
    if (source.startsWith("folder:")) {
      java.nio.file.Path root = java.nio.file.Path.of(source.substring("folder:".length()));
      train = o -> ImageFolder.open(root, o).input(batch, 1, null);
      description = "image folder " + root;
    } else {
      FashionMnist fm = FashionMnist.load(source);
      train = o -> fm.input(o, batch, 1);
      description = fm.description();
    }
    System.out.printf("source: %s; cores: %d; batch %d; %d timed steps after 5 warm-up steps%n",
        description, Runtime.getRuntime().availableProcessors(), batch, steps);
    for (int size : sizes) {
      for (Augment aug : List.of(Augment.NONE, Augment.deepMind("405"))) {
        double ips = run(train.apply(DataOptions.of(size).withAugment(aug)), steps);
        System.out.printf("size %3d  augment %-28s %8.1f images/s%n", size,
            aug.any() ? "RandAugment 405+MixUp+CutMix" : "none", ips);
      }
    }
  }

  static double run(InputSource input, int steps) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Batch b = input.build(tf, tf.constant(0L));
      var init = s.runner();
      b.initializers().forEach(init::addTarget);
      init.run();
      for (int i = 0; i < 5; i++) s.runner().addTarget(b.images().op()).run();
      long t0 = System.nanoTime();
      for (int i = 0; i < steps; i++) s.runner().addTarget(b.images().op()).run();
      double sec = (System.nanoTime() - t0) / 1e9;
      return steps * (double) input.batchSize() / sec;
    }
  }
}
