package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import java.util.SplittableRandom;
import org.nfnet.training.LearningRateSchedule;
import org.nfnet.training.StepConfig;
import org.nfnet.training.TrainStep;
import org.nfnet.training.data.FixedBatchInput;
import org.nfnet.zoo.NFNetConfig;

/**
 * Training-step images/s at the variant's training size, batch 8: the full step (forward with
 * stochastic depth and dropout, loss, gradients, AGC, Nesterov update, EMA) in one Session.run,
 * float32 and bf16 convolutions. The batch is a constant in the graph, so the input pipeline is
 * not part of the figure.
 */
final class TrainingBench {
  static final int BATCH = 8;

  private TrainingBench() {}

  static ObjectNode run(BenchSections.Settings s) {
    NFNetConfig c = s.config();
    int res = c.trainImsize();
    ObjectNode r = BenchSections.JSON.createObjectNode();
    StringBuilder summary = new StringBuilder();
    double gflopTrain = 3 * BenchSections.gflopPerImage(c, res); // forward + 2x backward
    for (boolean bf16 : new boolean[] {false, true}) {
      String key = bf16 ? "bf16" : "fp32";
      long t0 = System.nanoTime();
      try (TrainStep step = newStep(c, res, bf16, false)) {
        step.initialize();
        r.put(key + "_graph_build_seconds", (System.nanoTime() - t0) / 1e9);
        double[] t = new double[s.repeats()];
        double loss = 0;
        for (int i = 0; i < s.warmup() + s.repeats(); i++) {
          long a = System.nanoTime();
          loss = step.run(false).loss();
          if (i >= s.warmup()) {
            t[i - s.warmup()] = (System.nanoTime() - a) / 1e9;
          }
        }
        Stats st = Stats.of(t);
        double ips = BATCH / st.median();
        r.set(key + "_seconds", BenchSections.stats(st, "s per step"));
        r.put(key + "_images_per_s", ips);
        r.put(key + "_gflops_achieved", ips * gflopTrain);
        r.put(key + "_last_loss", loss);
        summary.append(String.format(Locale.ROOT,
            "%s %s training step @%dpx batch %d: %.2f img/s (%.3f s/step, +-%.0f%%, %d runs, loss %.3f)%n",
            c.name(), key, res, BATCH, ips, st.median(), st.spreadPercent(), st.n(), loss));
      }
    }
    double ratio = r.get("bf16_images_per_s").asDouble() / r.get("fp32_images_per_s").asDouble();
    r.put("bf16_over_fp32", ratio);
    summary.append(String.format(Locale.ROOT, "bf16 / fp32 training: %.2fx", ratio));
    r.put("summary", summary.toString());
    return r;
  }

  /**
   * The benchmarked step: DeepMind's optimizer and regularization on a constant random batch, with
   * a 10-step warm-up then a cosine over a million steps (a near-constant rate), so every timed
   * step does the same work; with {@code recompute}, activation recomputation.
   */
  static TrainStep newStep(NFNetConfig c, int res, boolean bf16, boolean recompute) {
    return newStep(c, res, bf16, recompute, true);
  }

  /** {@link #newStep(NFNetConfig, int, boolean, boolean)}, without the EMA when not {@code ema}. */
  static TrainStep newStep(NFNetConfig c, int res, boolean bf16, boolean recompute, boolean ema) {
    StepConfig defaults = StepConfig.defaults();
    return TrainStep.create(c, input(c, res), defaults.with(b -> b
        .schedule(new LearningRateSchedule.WarmupCosineDecay(0.0, 0.0, 0.1, 1_000_000, 10))
        .bf16(bf16).recompute(recompute).emaDecay(ema ? defaults.emaDecay() : 0)));
  }

  static FixedBatchInput input(NFNetConfig c, int res) {
    SplittableRandom rnd = new SplittableRandom(11);
    float[] images = new float[BATCH * res * res * 3];
    for (int i = 0; i < images.length; i++) {
      images[i] = (float) rnd.nextGaussian();
    }
    int[] labels = new int[BATCH];
    for (int i = 0; i < BATCH; i++) {
      labels[i] = rnd.nextInt(c.numClasses());
    }
    return new FixedBatchInput(images, labels, res, res, c.numClasses());
  }
}
