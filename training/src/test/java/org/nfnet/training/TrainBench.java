package org.nfnet.training;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.nfnet.training.data.SyntheticInput;

/**
 * Manual benchmark, skipped unless {@code -Dnfnet.bench=RES,BATCH,STEPS}. Prints steps/s and the
 * per-step losses; with env {@code TF_XLA_FLAGS=--tf_xla_cpu_global_jit} the session also enables
 * global JIT ON_2, so two runs (with and without the env) compare the XLA loss curve.
 */
class TrainBench {
  @Test
  @EnabledIfSystemProperty(named = "nfnet.bench", matches = ".+")
  void bench() {
    String[] a = System.getProperty("nfnet.bench").split(",");
    int res = Integer.parseInt(a[0]);
    int batch = Integer.parseInt(a[1]);
    int steps = Integer.parseInt(a[2]);
    boolean xla = System.getenv("TF_XLA_FLAGS") != null;
    StepConfig o = StepConfig.defaults().with(b -> b
        .schedule(LearningRateSchedule.constant(0.05)).xla(xla));
    long t0 = System.nanoTime();
    try (TrainStep s = TrainStep.create(Fixtures.t0Config(),
        new SyntheticInput(10, batch, res, 1000, 3L), o)) {
      s.initialize();
      long t1 = System.nanoTime();
      StringBuilder losses = new StringBuilder();
      for (int i = 0; i < 2; i++) {
        losses.append(s.run(false).loss()).append(' ');
      }
      long t2 = System.nanoTime();
      for (int i = 0; i < steps; i++) {
        losses.append(s.run(false).loss()).append(' ');
      }
      long t3 = System.nanoTime();
      System.out.printf("BENCH xla=%s res=%d batch=%d build %.1fs, first 2 steps %.1fs, %d steps %.2f steps/s (%.1f img/s)%nLOSSES %s%n",
          xla, res, batch, (t1 - t0) / 1e9, (t2 - t1) / 1e9, steps, steps / ((t3 - t2) / 1e9),
          steps * batch / ((t3 - t2) / 1e9), losses);
    }
  }
}
