package org.nfnet.bench;

import java.nio.file.Path;
import java.util.Random;
import java.util.function.Function;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.Variants;
import org.nfnet.zoo.VariantJson;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TUint8;

/**
 * Exports a randomly initialised variant folded and unfolded, reloads both, compares logits and
 * times serving_default. Args: variantOrJson outDir [batch=1] [iters=5].
 */
public final class ExportBench {
  public static void main(String[] args) throws Exception {
    NFNetConfig c = args[0].endsWith(".json") ? VariantJson.load(Path.of(args[0])) : Variants.get(args[0]);
    Path out = Path.of(args[1]);
    int batch = args.length > 2 ? Integer.parseInt(args[2]) : 1;
    int iters = args.length > 3 ? Integer.parseInt(args[3]) : 5;
    Function<ParameterSpec, TFloat32> values = spec -> {
      Random r = new Random(spec.haikuKey().hashCode());
      float[] v = new float[(int) spec.size()];
      long[] s = spec.shape();
      for (int i = 0; i < v.length; i++) {
        double g = r.nextGaussian();
        v[i] = (float) switch (spec.name()) {
          case "gain" -> 1 + 0.1 * g;
          case "bias", "b" -> 0.01 * g;
          case "skip_gain" -> 0.2;
          default -> s.length == 2 ? g / Math.sqrt(s[0]) : g;
        };
      }
      return TFloat32.tensorOf(Shape.of(s), DataBuffers.of(v, false, false));
    };
    NFNetExporter.Result f = new NFNetExporter(c).parameters(values).force(true).export(out.resolve("folded"));
    System.out.printf("%s folded export: %d ms, %.1f MB%n", c.name(), f.millis(), f.bytes() / 1e6);
    NFNetExporter.Result u = new NFNetExporter(c).parameters(values).fold(false).force(true)
        .export(out.resolve("unfolded"));
    System.out.printf("%s unfolded export: %d ms, %.1f MB%n", c.name(), u.millis(), u.bytes() / 1e6);
    int h = 320;
    int w = 320;
    byte[] px = new byte[batch * h * w * 3];
    new Random(3).nextBytes(px);
    float[][][] logits = new float[2][][];
    double[] ms = new double[2];
    Path[] dirs = {out.resolve("folded"), out.resolve("unfolded")};
    for (int k = 0; k < 2; k++) {
      long t0 = System.nanoTime();
      try (NFNetModel m = NFNetModel.load(dirs[k]);
          TUint8 t = TUint8.tensorOf(Shape.of(batch, h, w, 3), DataBuffers.of(px, true, false))) {
        System.out.printf("load %s: %d ms%n", dirs[k].getFileName(), (System.nanoTime() - t0) / 1_000_000);
        logits[k] = m.predictUint8(t).logits(); // warm-up
        long best = Long.MAX_VALUE;
        for (int i = 0; i < iters; i++) {
          long s = System.nanoTime();
          m.predictUint8(t);
          best = Math.min(best, System.nanoTime() - s);
        }
        ms[k] = best / 1e6;
      }
    }
    float maxAbs = 0;
    float maxDiff = 0;
    for (int i = 0; i < batch; i++) {
      for (int j = 0; j < logits[0][i].length; j++) {
        maxAbs = Math.max(maxAbs, Math.abs(logits[1][i][j]));
        maxDiff = Math.max(maxDiff, Math.abs(logits[0][i][j] - logits[1][i][j]));
      }
    }
    System.out.printf("serving_default batch %d (%dx%d): folded %.1f ms, unfolded %.1f ms, speed-up x%.2f%n",
        batch, h, w, ms[0], ms[1], ms[1] / ms[0]);
    System.out.printf("folded vs unfolded max|diff| %.3g (max|logit| %.3g, ratio %.3g)%n", maxDiff, maxAbs,
        maxDiff / maxAbs);
  }
}
