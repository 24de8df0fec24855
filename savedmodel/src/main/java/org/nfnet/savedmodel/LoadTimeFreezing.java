package org.nfnet.savedmodel;

import com.google.protobuf.UnsafeByteOperations;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.SessionFunction;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Turns a loaded variables SavedModel into a graph whose weights are constants, in memory.
 *
 * <p>Why: a frozen export ({@link FrozenWeights}) is faster because TF's oneDNN convolution caches
 * its reordered filter only for a {@code Const} filter and Grappler folds the bf16 casts of
 * constant kernels; a variables export re-reads and re-lays-out every weight on every call. This
 * gives the default (variables) export the same graph after loading: every variable read on the
 * path of a signature output ({@code Identity} of a {@code VariableV2}, or {@code ReadVariableOp}
 * of a {@code VarHandleOp}) becomes a {@code Const} of the variable's current value with the same
 * node name and device, so signature tensor names stay valid. Everything no signature needs
 * (variables, save/restore and init ops; see {@link FreezePlan}) is pruned and control inputs to
 * pruned nodes dropped; the function library is kept. The cost is memory, the same as a frozen
 * export's: TF holds constants several times over (the graph's NodeDefs, the optimized executor
 * graph, oneDNN's cached filters, plus what malloc keeps of Grappler's transient copies), about 7x
 * the variables' resident memory for F0, which is why {@link NFNetModel} freezes only on request.
 *
 * <p>Not frozen (the caller keeps the variables session, with {@link Outcome#reason()}): a kept
 * node that takes a variable itself rather than its value (an update, a function taking a
 * resource), variables of non-numeric or unknown shape, or weights over
 * {@link FrozenWeights#MAX_BYTES} (protobuf caps a GraphDef at 2 GB).
 */
public final class LoadTimeFreezing {
  /** Values fetched per {@code Session.run}: bounds the host copies in flight. */
  private static final long CHUNK_BYTES = 256L << 20;

  /** The frozen graph, session and signature functions; or null ones and why not. */
  public record Outcome(Graph graph, Session session, Map<String, SessionFunction> functions,
      String reason) {
    public boolean frozen() {
      return session != null;
    }
  }

  private LoadTimeFreezing() {}

  /**
   * Freezes {@code bundle}'s signatures into a new graph and session (same {@code config}; null:
   * TF's defaults). The bundle is left open; its owner closes it once the result is in use.
   */
  public static Outcome freeze(SavedModelBundle bundle, ConfigProto config) {
    GraphDef def = bundle.graph().toGraphDef();
    FreezePlan plan = FreezePlan.of(def, bundle.signatures());
    if (plan.reason() != null) {
      return skip(plan.reason());
    }
    Map<String, String> reads = plan.reads();
    Set<String> kept = plan.kept();
    Map<String, TensorProto> values = readValues(bundle.session(), reads, plan.nodes());
    GraphDef.Builder out = def.toBuilder().clearNode();
    for (NodeDef n : def.getNodeList()) {
      if (!kept.contains(n.getName())) {
        continue;
      }
      String variable = reads.get(n.getName());
      out.addNode(variable != null ? constant(n, values.get(variable)) : pruneEdges(n, kept));
    }
    values.clear();
    return build(out.build(), bundle.signatures(), config);
  }

  private static Outcome skip(String reason) {
    return new Outcome(null, null, Map.of(), reason);
  }

  private static Outcome build(GraphDef def, List<Signature> signatures, ConfigProto config) {
    Graph g = new Graph();
    Session s = null;
    try {
      g.importGraphDef(def);
      s = config == null ? new Session(g) : new Session(g, config);
      Map<String, SessionFunction> fns = new LinkedHashMap<>();
      for (Signature sig : signatures) {
        fns.put(sig.key(), SessionFunction.create(sig, s));
      }
      return new Outcome(g, s, fns, null);
    } catch (RuntimeException | Error e) {
      if (s != null) {
        s.close();
      }
      g.close();
      throw e;
    }
  }

  /**
   * Each read variable's value as a TensorProto, fetched a chunk of reads per run; each host tensor
   * is copied once into a byte array that the proto wraps, and closed right away.
   */
  private static Map<String, TensorProto> readValues(Session session, Map<String, String> reads,
      Map<String, NodeDef> nodes) {
    Map<String, String> readOfVariable = new LinkedHashMap<>();
    reads.forEach((read, v) -> readOfVariable.putIfAbsent(v, read));
    Map<String, TensorProto> values = new HashMap<>();
    List<String> chunk = new ArrayList<>();
    long chunkBytes = 0;
    for (Map.Entry<String, String> e : readOfVariable.entrySet()) {
      chunk.add(e.getKey());
      chunkBytes += FreezePlan.bytes(nodes.get(e.getKey()));
      if (chunkBytes >= CHUNK_BYTES) {
        fetch(session, chunk, readOfVariable, values);
        chunk.clear();
        chunkBytes = 0;
      }
    }
    fetch(session, chunk, readOfVariable, values);
    return values;
  }

  private static void fetch(Session session, List<String> variables, Map<String, String> readOf,
      Map<String, TensorProto> values) {
    if (variables.isEmpty()) {
      return;
    }
    Session.Runner r = session.runner();
    variables.forEach(v -> r.fetch(readOf.get(v)));
    try (Result res = r.run()) {
      for (int i = 0; i < variables.size(); i++) {
        Tensor t = res.get(i);
        byte[] bytes = new byte[Math.toIntExact(t.numBytes())];
        t.asRawTensor().data().read(bytes);
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (long d : t.shape().asArray()) {
          shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
        }
        values.put(variables.get(i), TensorProto.newBuilder().setDtype(t.dataType())
            .setTensorShape(shape).setTensorContent(UnsafeByteOperations.unsafeWrap(bytes)).build());
        t.close();
      }
    }
  }

  /** A {@code Const} standing in for a read: same name and device, no inputs. */
  private static NodeDef constant(NodeDef read, TensorProto value) {
    return NodeDef.newBuilder().setName(read.getName()).setOp("Const").setDevice(read.getDevice())
        .putAttr("dtype", AttrValue.newBuilder().setType(value.getDtype()).build())
        .putAttr("value", AttrValue.newBuilder().setTensor(value).build())
        .build();
  }

  /** Drops control inputs and colocation constraints ({@code _class}) naming pruned nodes. */
  private static NodeDef pruneEdges(NodeDef n, Set<String> kept) {
    boolean inputs = n.getInputList().stream().allMatch(in -> kept.contains(FreezePlan.nodeName(in)));
    AttrValue coloc = n.getAttrMap().get("_class");
    if (inputs && coloc == null) {
      return n;
    }
    NodeDef.Builder b = n.toBuilder().clearInput();
    n.getInputList().stream().filter(in -> kept.contains(FreezePlan.nodeName(in))).forEach(b::addInput);
    if (coloc != null) {
      b.removeAttr("_class");
      List<com.google.protobuf.ByteString> locs = coloc.getList().getSList().stream()
          .filter(s -> !s.toStringUtf8().startsWith("loc:@")
              || kept.contains(s.toStringUtf8().substring(5)))
          .toList();
      if (!locs.isEmpty()) {
        b.putAttr("_class", AttrValue.newBuilder().setList(
            AttrValue.ListValue.newBuilder().addAllS(locs)).build());
      }
    }
    return b.build();
  }
}
