package org.nfnet.training.xla;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Under CPU global JIT (a child JVM, see {@link XlaProbe}), {@code TrainStep} as
 * {@code nfnet train --xla} builds it (stochastic depth, dropout, AGC, Nesterov, EMA,
 * warm-up/cosine LR, global step; resource variables) is one XLA cluster that XLA compiles, with
 * no ref-variable op and at least 98% of the step's nodes, and its 5 losses equal those of the
 * same step without XLA within 1e-6 relative, for T0 and nano.
 */
class ResourceStepXlaTest {

  @ParameterizedTest
  @ValueSource(strings = {"t0", "nano"})
  void wholeStepIsOneClusterWithTheSameLosses(String variant, @TempDir Path dump)
      throws Exception {
    XlaProbe.Result r = XlaProbe.run(XlaProbe.Kind.TRAIN,
        new XlaProbe.Options("../variants/" + variant + ".json", 32, 4, 5, "synthetic", 0), dump,
        new java.io.PrintWriter(System.out, true), false);
    XlaClusterReport.GraphReport g = r.report();
    assertEquals(1, g.clusterSizes().size(), g.summary());
    assertEquals(1, r.compiledClusters(), "XLA compiled the cluster");
    assertEquals(0, g.refVariableOps());
    assertTrue(g.computeCoverage() >= 98.0, g.summary());
    assertLossesAgree(r);
  }

  /**
   * With activation recomputation ({@code --xla --recompute}) the step is still one compiled
   * cluster, and its losses are the step's without XLA.
   */
  @Test
  void recomputingStepIsOneClusterWithTheSameLosses(@TempDir Path dump) throws Exception {
    XlaProbe.Result r = XlaProbe.run(XlaProbe.Kind.TRAIN_RECOMPUTE,
        new XlaProbe.Options("../variants/t0.json", 32, 4, 5, "synthetic", 0), dump,
        new java.io.PrintWriter(System.out, true), false);
    assertEquals(1, r.report().clusterSizes().size(), r.report().summary());
    assertEquals(1, r.compiledClusters(), "XLA compiled the cluster");
    assertLossesAgree(r);
  }

  /**
   * The probe's 5 losses with and without XLA agree within 1e-6 relative, and are real training
   * losses (10 classes, label smoothing: ~ln 10 at the start).
   */
  static void assertLossesAgree(XlaProbe.Result r) {
    List<Double> xla = r.values("losses_xla");
    List<Double> plain = r.values("losses_plain");
    assertEquals(5, xla.size());
    assertEquals(5, plain.size());
    for (int i = 0; i < 5; i++) {
      assertEquals(plain.get(i), xla.get(i), 1e-6 * Math.abs(plain.get(i)), "loss of step " + i);
    }
    assertTrue(plain.get(0) > 1.5 && plain.get(0) < 3.5, plain.toString());
  }
}
