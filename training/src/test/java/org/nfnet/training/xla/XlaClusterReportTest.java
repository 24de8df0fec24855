package org.nfnet.training.xla;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** The parsing and classification of {@link XlaClusterReport} (no TensorFlow run). */
class XlaClusterReportTest {

  private static NodeDef node(String name, String op, String cluster, String... inputs) {
    NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp(op);
    for (String i : inputs) {
      b.addInput(i);
    }
    if (cluster != null) {
      b.putAttr("_XlaCluster", AttrValue.newBuilder().setS(ByteString.copyFromUtf8(cluster))
          .build());
    }
    return b.build();
  }

  @Test
  void countsClustersAndGroupsTheRest() {
    GraphDef g = GraphDef.newBuilder()
        .addNode(node("NFNet/conv/w", "VariableV2", null))
        .addNode(node("NFNet/conv/w/read", "Identity", null, "NFNet/conv/w"))
        .addNode(node("NFNet/conv/Conv2D", "Conv2D", "cluster_1", "x", "NFNet/conv/w/read"))
        .addNode(node("gradients/Conv2DBackpropFilter", "Conv2DBackpropFilter", "cluster_1"))
        .addNode(node("NFNet/StatelessRandomUniform", "StatelessRandomUniform", null))
        .addNode(node("NFNet/conv/BiasAdd", "_FusedConv2D", null))
        .addNode(node("optimizer_assign/Assign", "Assign", null, "NFNet/conv/w", "new"))
        .addNode(node("input/IteratorGetNext", "IteratorGetNext", null))
        .addNode(node("summaries/Const_4", "Const", null))
        .addNode(node("ema_update/Mul", "Mul", "cluster_2"))
        .addNode(node("ema/NFNet/conv/w", "VarHandleOp", null))
        .build();
    List<String> log = List.of(
        "I compilability_check_util.cc:74] Found uncompilable node NFNet/conv/w (op VariableV2):"
            + " No registered 'VariableV2' OpKernel for XLA_CPU_JIT devices compatible with node"
            + " {{node NFNet/conv/w}}",
        "I compilability_check_util.cc:122] Rejecting NFNet/conv/w/read: Identity with unsafe"
            + " cast.",
        "I mark_for_compilation_pass.cc:1] Rejecting summaries/Const_4: Const op with type"
            + " DT_STRING is not supported by XLA.");
    Map<String, String> reasons = XlaClusterReport.reasons(log);
    XlaClusterReport.GraphReport r = XlaClusterReport.analyse(g, "train/step", reasons);

    assertEquals(11, r.nodes());
    assertEquals(3, r.clustered());
    assertEquals(Map.of("cluster_1", 2, "cluster_2", 1), r.clusterSizes());
    assertEquals(8, r.unclustered().size());
    // VariableV2, its Identity read and the Assign.
    assertEquals(3, r.refVariableOps());
    // The step leaves out the input pipeline and the summaries: 11 - 2 nodes, 3 clustered.
    assertEquals(9, r.stepNodes());
    assertEquals(1, r.varHandles());
    assertEquals(100.0 * 3 / 9, r.stepCoverage(), 1e-9);
    assertEquals(100.0 * 3 / 8, r.computeCoverage(), 1e-9);
    assertEquals("clusters: 2, nodes in clusters: 33.3%, ref-variable ops: 3 (37.5% of the nodes"
        + " other than the 1 VarHandleOps, which XLA takes as cluster arguments)", r.summary());
    Map<String, XlaClusterReport.Unclustered> byName = new java.util.HashMap<>();
    r.unclustered().forEach(u -> byName.put(u.name(), u));
    assertEquals("no XLA_CPU_JIT kernel for this op and these attributes",
        byName.get("NFNet/conv/w").reason());
    assertEquals("ref-variable state (VariableV2 / Assign* / in-place Apply*)", byName.get("NFNet/conv/w").category());
    assertEquals("ref-variable read", byName.get("NFNet/conv/w/read").category());
    assertEquals("forwards a ref-typed input (\"Identity with unsafe cast\")",
        byName.get("NFNet/conv/w/read").reason());
    assertEquals("forward: stochastic depth / dropout mask",
        byName.get("NFNet/StatelessRandomUniform").category());
    assertEquals("forward: Grappler CPU fusion", byName.get("NFNet/conv/BiasAdd").category());
    assertEquals("input pipeline (tf.data)", byName.get("input/IteratorGetNext").category());
    assertEquals("TensorBoard summaries", byName.get("summaries/Const_4").category());
    assertEquals("Const op with type DT_STRING is not supported by XLA.",
        byName.get("summaries/Const_4").reason());
    // No logged reason: a compilable node that no cluster took.
    assertEquals(true, byName.get("optimizer_assign/Assign").reason().startsWith("compilable"));
  }
}
