package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.savedmodel.NFNetModel;
import org.tensorflow.Result;
import org.tensorflow.SessionFunction;
import org.tensorflow.types.TFloat32;

/**
 * A/B of exported SavedModels (section {@code compare}, with {@code --models A,B,...}): all are
 * loaded into one JVM and timed round-robin, one call of each per round, at the variant's test
 * size and batch 1 and 8, so that this VM's speed drift lands on every model alike; speeds are
 * reported as ratios to the first model. This is how an export-affecting change is judged
 * (BENCHMARKS.md): export before and after it, then compare.
 */
final class ModelComparison {
  private ModelComparison() {}

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    List<Path> dirs = s.models();
    if (dirs == null || dirs.size() < 2) {
      throw new IllegalArgumentException("section 'compare' needs --models DIR1,DIR2[,...]");
    }
    int res = s.config().testImsize();
    ObjectNode r = BenchSections.JSON.createObjectNode();
    List<NFNetModel> models = new ArrayList<>();
    List<TFloat32> inputs = new ArrayList<>();
    try {
      List<SessionFunction> fns = new ArrayList<>();
      for (Path d : dirs) {
        NFNetModel m = NFNetModel.load(d, SessionConfigs.threads(s.threads()));
        models.add(m);
        fns.add(m.function(NFNetExporter.LOGITS_FROM_NORMALIZED));
      }
      for (int n : InferenceBench.BATCHES) {
        inputs.add(InferenceBench.input(n, res));
      }
      int b = InferenceBench.BATCHES.length;
      double[][][] t = new double[dirs.size()][b][s.repeats()];
      for (int i = 0; i < s.warmup() + s.repeats(); i++) {
        for (int mi = 0; mi < dirs.size(); mi++) {
          for (int bi = 0; bi < b; bi++) {
            long a = System.nanoTime();
            try (Result out = fns.get(mi).call(Map.of("normalized", inputs.get(bi)))) {
              // Only the time matters here.
            }
            if (i >= s.warmup()) {
              t[mi][bi][i - s.warmup()] = (System.nanoTime() - a) / 1e9;
            }
          }
        }
      }
      StringBuilder summary = new StringBuilder();
      for (int bi = 0; bi < b; bi++) {
        int n = InferenceBench.BATCHES[bi];
        double first = 0;
        for (int mi = 0; mi < dirs.size(); mi++) {
          Stats st = Stats.of(t[mi][bi]);
          double ips = n / st.median();
          first = mi == 0 ? ips : first;
          String key = "model" + mi + "_batch" + n;
          r.set(key + "_seconds", BenchSections.stats(st, "s per call"));
          r.put(key + "_images_per_s", ips);
          summary.append(String.format(Locale.ROOT,
              "%s @%dpx batch %d: %.2f img/s (+-%.0f%%, %d runs), %.2fx the first%n", dirs.get(mi),
              res, n, ips, st.spreadPercent(), st.n(), ips / first));
        }
      }
      r.put("summary", summary.toString().stripTrailing());
      return r;
    } finally {
      inputs.forEach(TFloat32::close);
      models.forEach(NFNetModel::close);
    }
  }
}
