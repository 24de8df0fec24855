package org.nfnet.training.xla;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Under CPU global JIT (child JVM, {@link XlaProbe}), T0's step over two local CPU towers
 * ({@code DataParallel.local(2, CPU)}, {@code nfnet xla-report --graph train-2cpu}) compiles
 * tower 1's whole forward and backward into one cluster on CPU:1, and device 0 into at most three
 * (its tower before the all-reduce, the update after it, the metrics' mean after its replica-count
 * check), with the same 5 losses as the step without XLA (1e-6 relative). With tower 1's
 * backward built in the step's graph (placed on CPU:0) the step was 232 clusters; as a function
 * without the {@code Copy} of its inputs, 172 (BENCHMARKS.md).
 */
class TowersXlaTest {

  @Test
  void eachTowerCompilesIntoOneClusterOnItsDevice(@TempDir Path dump) throws Exception {
    XlaProbe.Result r = XlaProbe.run(XlaProbe.Kind.TRAIN_2CPU,
        new XlaProbe.Options("../variants/t0.json", 32, 4, 5, "synthetic", 0), dump,
        new PrintWriter(System.out, true), false);
    GraphDef g = XlaClusterReport.findDump(dump.resolve("train-2cpu"), "train/step");
    // Device -> its clusters, and the tower-1 compute left outside any cluster (constants are
    // cloned into the clusters that use them).
    Map<String, Set<String>> clusters = new TreeMap<>();
    Set<String> tower1Outside = new TreeSet<>();
    for (NodeDef n : g.getNodeList()) {
      String dev = n.getDevice().replaceFirst(".*device:", "");
      AttrValue c = n.getAttrMap().get("_XlaCluster");
      if (c != null) {
        clusters.computeIfAbsent(dev, k -> new TreeSet<>()).add(c.getS().toStringUtf8());
      } else if (n.getName().startsWith("tower_1/tower/") && !n.getOp().equals("Const")) {
        tower1Outside.add(n.getName() + " (" + n.getOp() + ")");
      }
    }
    XlaClusterReport.GraphReport rep = r.report();
    System.out.println("clusters by device: " + clusters);
    assertEquals(Set.of("CPU:0", "CPU:1"), clusters.keySet());
    assertEquals(1, clusters.get("CPU:1").size(), "tower 1 is one cluster: " + clusters);
    assertTrue(tower1Outside.isEmpty(), "tower 1's forward and backward are in it: "
        + tower1Outside);
    assertTrue(clusters.get("CPU:0").size() <= 3, rep.summary());
    assertEquals(rep.clusterSizes().size(), r.compiledClusters(), "XLA compiled every cluster");
    assertEquals(0, rep.refVariableOps());
    assertTrue(rep.computeCoverage() >= 97.0, rep.summary());
    ResourceStepXlaTest.assertLossesAgree(r);
  }
}
