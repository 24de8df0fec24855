package org.nfnet.training;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nfnet.training.data.FixedBatchInput;
import org.nfnet.zoo.NFNetConfig;

/** Temporary (not committed): loss/weight hashes of a few non-regularized T0 steps. */
class HashProbeTest {
  @Test
  void hashes() {
    NFNetConfig t0 = Fixtures.t0Config();
    int n = 4, res = 32;
    float[] images = new float[n * res * res * 3];
    Random r = new Random(17);
    for (int i = 0; i < images.length; i++) images[i] = (float) r.nextGaussian();
    int[] labels = {2, 5, 5, 9};
    LearningRateSchedule lr = new LearningRateSchedule.WarmupCosineDecay(0, 0, 0.4, 20, 2);
    for (boolean reg : new boolean[] {false, true}) {
      StepConfig o = StepConfig.defaults().with(b -> b.schedule(lr).regularize(reg).emaDecay(0.9));
      try (TrainStep s = TrainStep.create(t0, new FixedBatchInput(images, labels, res, res, t0.numClasses()), o)) {
        s.initialize();
        StringBuilder sb = new StringBuilder("HASH reg=" + reg + " losses:");
        for (int i = 0; i < 4; i++) sb.append(' ').append(Float.floatToIntBits((float) s.run(false).loss())).append('/').append((float) s.run(false).loss());
        sb.append(" w=").append(hash(s.weights())).append(" ema=").append(hash(s.evalWeights()));
        System.out.println(sb);
      }
    }
  }

  static String hash(Map<String, float[]> m) {
    long h = 1;
    for (var e : m.entrySet()) {
      h = h * 31 + e.getKey().hashCode();
      for (float f : e.getValue()) h = h * 1000003L + Float.floatToIntBits(f);
    }
    return Long.toHexString(h);
  }
}
