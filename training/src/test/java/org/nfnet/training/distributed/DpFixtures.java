package org.nfnet.training.distributed;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.training.LearningRateSchedule;
import org.nfnet.training.StepConfig;
import org.nfnet.training.data.FixedBatchInput;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.VariantJson;

/**
 * Shared setup of the data-parallel training checks: the tiny T0 variant at 32 px, one fixed
 * global batch of 4 images, deterministic options (no stochastic depth/dropout, constant LR, AGC
 * and weight decay on as in DeepMind's recipe), and weight files.
 */
final class DpFixtures {
  static final int RES = 32;
  static final int GLOBAL_BATCH = 4;
  static final int STEPS = 4;
  static final int[] LABELS = {1, 7, 3, 9};

  private DpFixtures() {}

  /** The shared T0 fixture variant as a variant JSON file (absolute path, passed to child JVMs). */
  static Path t0Json() {
    return SharedFixtures.t0VariantFile();
  }

  static NFNetConfig model(Path t0Json) {
    return VariantJson.load(t0Json);
  }

  /** The global batch: smooth pseudo-random images in [-1, 1], labels {@link #LABELS}. */
  static FixedBatchInput globalBatch() {
    float[] im = new float[GLOBAL_BATCH * RES * RES * 3];
    for (int i = 0; i < im.length; i++) {
      im[i] = (float) Math.sin(0.013 * i + 0.7 * (i % 3)) * (float) Math.cos(0.0007 * i);
    }
    return new FixedBatchInput(im, LABELS, RES, RES, 10);
  }

  /** Constant LR 0.4, SGD + Nesterov + AGC (0.01) + weight decay, eval-mode forward, no EMA. */
  static StepConfig options() {
    return StepConfig.defaults().with(b -> b.schedule(LearningRateSchedule.constant(0.4))
        .regularize(false).emaDecay(0).seed(7));
  }

  static void write(Map<String, float[]> w, Path file) throws IOException {
    try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
      out.writeInt(w.size());
      for (var e : w.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeInt(e.getValue().length);
        for (float f : e.getValue()) {
          out.writeFloat(f);
        }
      }
    }
  }

  static Map<String, float[]> read(Path file) throws IOException {
    Map<String, float[]> w = new LinkedHashMap<>();
    try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
      int n = in.readInt();
      for (int i = 0; i < n; i++) {
        String k = in.readUTF();
        float[] a = new float[in.readInt()];
        for (int j = 0; j < a.length; j++) {
          a[j] = in.readFloat();
        }
        w.put(k, a);
      }
    }
    return w;
  }

  /** max over tensors of ||a - b|| / ||b|| (0 for tensors that are 0 in both). */
  static double maxRelativeDiff(Map<String, float[]> a, Map<String, float[]> b) {
    if (!a.keySet().equals(b.keySet())) {
      throw new AssertionError("different parameters: " + a.keySet() + " vs " + b.keySet());
    }
    double worst = 0;
    for (String k : b.keySet()) {
      double d = 0;
      double n = 0;
      float[] x = a.get(k);
      float[] y = b.get(k);
      for (int i = 0; i < y.length; i++) {
        d += (double) (x[i] - y[i]) * (x[i] - y[i]);
        n += (double) y[i] * y[i];
      }
      worst = Math.max(worst, d == 0 ? 0 : Math.sqrt(d / Math.max(n, 1e-30)));
    }
    return worst;
  }

  /** ||final - initial|| / ||initial|| over all parameters (the update is not vacuous). */
  static double relativeChange(Map<String, float[]> fin, Map<String, float[]> init) {
    double d = 0;
    double n = 0;
    for (String k : init.keySet()) {
      float[] x = fin.get(k);
      float[] y = init.get(k);
      for (int i = 0; i < y.length; i++) {
        d += (double) (x[i] - y[i]) * (x[i] - y[i]);
        n += (double) y[i] * y[i];
      }
    }
    return Math.sqrt(d / n);
  }
}
