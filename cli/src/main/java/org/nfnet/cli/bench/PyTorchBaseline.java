package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.training.TrainStep;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Result;
import org.tensorflow.SessionFunction;
import org.tensorflow.types.TFloat32;

/**
 * Section {@code pytorch}: our F0 figures against PyTorch float32 on this machine, interleaved.
 *
 * <p>The baseline is {@code bench/pytorch/nfnet_torch.py} under Debian's {@code python3-torch}: an
 * F0 written with timm's op choices for {@code dm_nfnet_f0}, checked against DeepMind's T0 logits.
 * This VM's speed drifts by up to 2x over minutes, so sections run one after the other cannot be
 * compared; here every round times one call of each of our configurations and one of PyTorch's
 * (a child process that idles between requests), and the ratios are taken round by round. Each
 * turn is one untimed call then {@link #BLOCK} timed ones, so a turn measures back-to-back calls
 * as a user's loop runs them, not a first call after the other side ran (cold caches and cores).
 *
 * <p>PyTorch's form is chosen per figure: a short run of every candidate (NCHW or channels-last;
 * eager or TorchScript {@code optimize_for_inference}; for training the plain step or the full one
 * with AGC and EMA as ours has) keeps the two fastest, both run in every round, and the one with
 * the better median is the baseline, so every ratio is against PyTorch at its best.
 */
final class PyTorchBaseline {
  private static final String[] INFER_FORMS = {"eager_nchw", "eager_channels_last",
      "torchscript_nchw", "torchscript_channels_last"};
  private static final String[] TRAIN_FORMS = {"plain_nchw", "plain_channels_last", "full_nchw",
      "full_channels_last"};

  /** PyTorch forms kept from the candidates and timed in every round. */
  static final int FINALISTS = 2;

  /** Timed calls per configuration per round, after one untimed call. */
  static final int BLOCK = 2;

  private PyTorchBaseline() {}

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    NFNetConfig c = s.config();
    if (!c.name().equals("F0")) {
      throw new IllegalArgumentException("the pytorch section times F0 only (the baseline script "
          + "builds DeepMind's F0), got --variant " + s.variant());
    }
    int threads = s.threads() > 0 ? s.threads() : Runtime.getRuntime().availableProcessors();
    ObjectNode r = BenchSections.JSON.createObjectNode();
    StringBuilder summary = new StringBuilder(String.format(Locale.ROOT,
        "F0 against PyTorch float32 (bench/pytorch/nfnet_torch.py, %d threads), interleaved round "
            + "by round (per turn: 1 untimed + %d timed calls); ratio = our images/s over "
            + "PyTorch's (median of the per-round ratios, min-max over rounds)%n", threads, BLOCK));
    try (PyTorchProcess pt = PyTorchProcess.start(threads)) {
      // Training first, in the fresh JVM: after the inference phase (four models loaded, run and
      // closed) our training steps measured ~25% slower than in the train section's own JVM.
      training(s, c, pt, r, summary);
      inference(s, c, pt, r, summary);
      r.put("pytorch_peak_rss_mb", pt.peakRssMb());
      summary.append(String.format(Locale.ROOT, "peak RSS of the PyTorch process: %.0f MB",
          pt.peakRssMb()));
    }
    r.put("summary", summary.toString());
    return r;
  }

  private static void inference(BenchSections.Settings s, NFNetConfig c, PyTorchProcess pt,
      ObjectNode r, StringBuilder summary) throws Exception {
    int res = c.testImsize();
    int[] batches = InferenceBench.BATCHES;
    List<List<String>> ptKeys = new ArrayList<>();
    for (int n : batches) {
      ptKeys.add(finalists(pt, "infer", INFER_FORMS, n, r, summary));
    }
    InferenceBench.Mode[] modes = InferenceBench.MODES;
    List<NFNetModel> models = new ArrayList<>();
    List<TFloat32> inputs = new ArrayList<>();
    try {
      List<SessionFunction> fns = new ArrayList<>();
      for (InferenceBench.Mode mode : modes) {
        NFNetModel m = NFNetModel.load(InferenceBench.exported(s, c, mode),
            SessionConfigs.threads(s.threads()));
        models.add(m);
        fns.add(m.bundle().function(NFNetExporter.LOGITS_FROM_NORMALIZED));
      }
      for (int n : batches) {
        inputs.add(InferenceBench.input(n, res));
      }
      double[][][] ours = new double[batches.length][modes.length][s.repeats()];
      double[][][] theirs = new double[batches.length][FINALISTS][s.repeats()];
      for (int i = 0; i < s.warmup() + s.repeats(); i++) {
        for (int bi = 0; bi < batches.length; bi++) {
          for (int mi = 0; mi < modes.length; mi++) {
            SessionFunction fn = fns.get(mi);
            TFloat32 x = inputs.get(bi);
            double t = block(() -> {
              try (Result out = fn.call(Map.of("normalized", x))) {
                // timed call; logits are checked by the infer section
              }
            });
            if (i >= s.warmup()) {
              ours[bi][mi][i - s.warmup()] = t;
            }
          }
          for (int k = 0; k < FINALISTS; k++) {
            String key = ptKeys.get(bi).get(k);
            double t = block(() -> pt.run(key));
            if (i >= s.warmup()) {
              theirs[bi][k][i - s.warmup()] = t;
            }
          }
        }
      }
      for (int bi = 0; bi < batches.length; bi++) {
        String label = String.format(Locale.ROOT, "inference @%dpx batch %d", res, batches[bi]);
        double[] base = baseline(r, summary, "pytorch_infer_b" + batches[bi], label,
            batches[bi], ptKeys.get(bi), theirs[bi]);
        for (int mi = 0; mi < modes.length; mi++) {
          report(r, summary, "infer_" + modes[mi].key() + "_b" + batches[bi],
              label + ", ours " + modes[mi].key(), batches[bi], ours[bi][mi], base);
        }
      }
    } finally {
      inputs.forEach(TFloat32::close);
      models.forEach(NFNetModel::close);
    }
    for (List<String> keys : ptKeys) {
      for (String k : keys) {
        pt.drop(k);
      }
    }
  }

  /**
   * One phase per precision of ours, each alternating with PyTorch, so only one of our training
   * graphs is alive at a time, as in a user's training run (with both alive and alternating, after
   * the inference phase, our steps ran 20-30% slower; the cause was not identified).
   */
  private static void training(BenchSections.Settings s, NFNetConfig c, PyTorchProcess pt,
      ObjectNode r, StringBuilder summary) throws IOException {
    int batch = TrainingBench.BATCH;
    List<String> ptKeys = finalists(pt, "train", TRAIN_FORMS, batch, r, summary);
    int res = c.trainImsize();
    String label = String.format(Locale.ROOT, "training step @%dpx batch %d", res, batch);
    for (boolean bf16 : new boolean[] {false, true}) {
      String name = bf16 ? "bf16" : "fp32";
      double[] ours = new double[s.repeats()];
      double[][] theirs = new double[FINALISTS][s.repeats()];
      try (TrainStep step = TrainingBench.newStep(c, res, bf16)) {
        step.initialize();
        for (int i = 0; i < s.warmup() + s.repeats(); i++) {
          double t = block(() -> step.run(false));
          if (i >= s.warmup()) {
            ours[i - s.warmup()] = t;
          }
          for (int k = 0; k < FINALISTS; k++) {
            String key = ptKeys.get(k);
            double p = block(() -> pt.run(key));
            if (i >= s.warmup()) {
              theirs[k][i - s.warmup()] = p;
            }
          }
        }
      }
      double[] base = baseline(r, summary, "pytorch_train_b" + batch + "_with_" + name, label,
          batch, ptKeys, theirs);
      report(r, summary, "train_" + name + "_b" + batch, label + ", ours " + name, batch, ours,
          base);
    }
    for (String k : ptKeys) {
      pt.drop(k);
    }
  }

  /** A call that may throw; {@link #block} times it. */
  private interface Call {
    void run() throws IOException;
  }

  /**
   * One round's turn of one configuration: an untimed call (the first call after the other side
   * ran may pay for cold caches and idle cores), then the mean of {@link #BLOCK} timed calls.
   */
  private static double block(Call call) throws IOException {
    call.run();
    long a = System.nanoTime();
    for (int k = 0; k < BLOCK; k++) {
      call.run();
    }
    return (System.nanoTime() - a) / 1e9 / BLOCK;
  }

  /**
   * PyTorch's {@link #FINALISTS} fastest forms for a figure: every candidate is built and timed
   * (1 warm-up, 3 timed calls, median); the rest are dropped to free their memory. A 3-call
   * median is too noisy here to pick one form for good, so the finalists all run in every round.
   */
  private static List<String> finalists(PyTorchProcess pt, String kind, String[] forms, int batch,
      ObjectNode r, StringBuilder summary) throws IOException {
    List<String> keys = new ArrayList<>();
    List<Double> medians = new ArrayList<>();
    StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
        "PyTorch %s batch %d, candidate forms (median of 3 calls):", kind, batch));
    for (String form : forms) {
      String key = kind + "_" + form + "_b" + batch;
      pt.prepare(key);
      pt.run(key);
      double med = Stats.of(new double[] {pt.run(key), pt.run(key), pt.run(key)}).median();
      line.append(String.format(Locale.ROOT, " %s %.2f img/s;", form, batch / med));
      r.put("pytorch_candidate_" + key + "_images_per_s", batch / med);
      keys.add(key);
      medians.add(med);
      if (keys.size() > FINALISTS) {
        int worst = medians.indexOf(java.util.Collections.max(medians));
        pt.drop(keys.remove(worst));
        medians.remove(worst);
      }
    }
    summary.append(line).append(" finalists: ").append(String.join(", ", keys)).append('\n');
    return keys;
  }

  /**
   * The finalist with the best median over the rounds is PyTorch's figure; its per-round times are
   * what our ratios are taken against.
   */
  private static double[] baseline(ObjectNode r, StringBuilder summary, String key, String label,
      int batch, List<String> finalists, double[][] seconds) {
    int best = 0;
    for (int k = 1; k < finalists.size(); k++) {
      if (Stats.of(seconds[k]).median() < Stats.of(seconds[best]).median()) {
        best = k;
      }
    }
    for (int k = 0; k < finalists.size(); k++) {
      report(r, summary, k == best ? key : key + "_runner_up_" + finalists.get(k),
          label + ", PyTorch " + finalists.get(k) + (k == best ? " (baseline)" : ""), batch,
          seconds[k], null);
    }
    r.put(key + "_form", finalists.get(best));
    return seconds[best];
  }

  /** Stats of one configuration and, when {@code baseline} is given, its ratios to it. */
  private static void report(ObjectNode r, StringBuilder summary, String key, String label,
      int batch, double[] seconds, double[] baseline) {
    Stats st = Stats.of(seconds);
    double ips = batch / st.median();
    r.set(key + "_seconds", BenchSections.stats(st, "s per call"));
    r.put(key + "_images_per_s", ips);
    summary.append(String.format(Locale.ROOT, "  %-58s %6.2f img/s (+-%.0f%%)", label, ips,
        st.spreadPercent()));
    if (baseline != null) {
      double[] perRound = new double[seconds.length];
      Arrays.setAll(perRound, i -> baseline[i] / seconds[i]);
      Stats ratio = Stats.of(perRound);
      r.set(key + "_over_pytorch", BenchSections.stats(ratio, "x PyTorch images/s"));
      summary.append(String.format(Locale.ROOT, "  %.2fx PyTorch (%.2f-%.2f)", ratio.median(),
          ratio.min(), ratio.max()));
    }
    summary.append('\n');
  }
}
