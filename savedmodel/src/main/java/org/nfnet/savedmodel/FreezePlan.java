package org.nfnet.savedmodel;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Signature;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorShapeProto;

/**
 * What {@link LoadTimeFreezing} keeps of a graph: the nodes the signatures need (walking inputs
 * back from their outputs and inputs, stopping at variable reads) and which of them read which
 * variable; or why the graph cannot be frozen.
 *
 * @param nodes every node of the graph by name
 * @param kept the needed nodes, reads included, variables excluded
 * @param reads read node -> variable node ({@code Identity} of a {@code VariableV2}/{@code
 *     Variable}, {@code ReadVariableOp} of a {@code VarHandleOp})
 * @param reason why not to freeze, or null
 */
record FreezePlan(Map<String, NodeDef> nodes, Set<String> kept, Map<String, String> reads,
    String reason) {

  static FreezePlan of(GraphDef def, List<Signature> signatures) {
    Map<String, NodeDef> nodes = new HashMap<>();
    def.getNodeList().forEach(n -> nodes.put(n.getName(), n));
    Deque<String> todo = new ArrayDeque<>();
    for (Signature s : signatures) {
      s.getOutputs().values().forEach(t -> todo.add(nodeName(t.name)));
      s.getInputs().values().forEach(t -> todo.add(nodeName(t.name)));
    }
    Set<String> kept = new LinkedHashSet<>();
    Map<String, String> reads = new LinkedHashMap<>(); // read node -> variable node
    while (!todo.isEmpty()) {
      String name = todo.pop();
      NodeDef n = nodes.get(name);
      if (n == null) {
        return refused(nodes, "signature tensor " + name + " is not in the graph");
      }
      if (!kept.add(name)) {
        continue;
      }
      String variable = readOf(n, nodes);
      if (variable != null) {
        reads.put(name, variable);
        continue;
      }
      for (String in : n.getInputList()) {
        NodeDef src = nodes.get(nodeName(in));
        if (src != null && isVariable(src) && !in.startsWith("^")) {
          return refused(nodes, "variable " + src.getName() + " feeds " + n.getOp() + " " + name
              + ", not only reads of its value");
        }
        if (src != null && !isVariable(src)) {
          todo.push(src.getName());
        }
      }
    }
    if (reads.isEmpty()) {
      return refused(nodes, "no signature reads a variable");
    }
    return new FreezePlan(nodes, kept, reads, checkVariables(reads, nodes));
  }

  private static FreezePlan refused(Map<String, NodeDef> nodes, String reason) {
    return new FreezePlan(nodes, Set.of(), Map.of(), reason);
  }

  private static boolean isVariable(NodeDef n) {
    return switch (n.getOp()) {
      case "VariableV2", "Variable", "VarHandleOp" -> true;
      default -> false;
    };
  }

  /** The variable a node reads the value of, or null. */
  private static String readOf(NodeDef n, Map<String, NodeDef> nodes) {
    if (n.getInputCount() == 0 || n.getInput(0).startsWith("^")) {
      return null;
    }
    NodeDef src = nodes.get(nodeName(n.getInput(0)));
    if (src == null) {
      return null;
    }
    boolean read = n.getOp().equals("ReadVariableOp") && src.getOp().equals("VarHandleOp")
        || n.getOp().equals("Identity") && !src.getOp().equals("VarHandleOp") && isVariable(src);
    return read ? src.getName() : null;
  }

  /** Why the read variables cannot become constants, or null when they can. */
  private static String checkVariables(Map<String, String> reads, Map<String, NodeDef> nodes) {
    long bytes = 0;
    for (String v : new LinkedHashSet<>(reads.values())) {
      long b = bytes(nodes.get(v));
      if (b < 0) {
        return "variable " + v + " is not a numeric tensor of known shape";
      }
      bytes += b;
    }
    if (bytes > FrozenWeights.MAX_BYTES) {
      return String.format(java.util.Locale.ROOT, "weights (%.2f GB) exceed the %.2f GB a GraphDef"
          + " can hold (protobuf caps it at 2 GB)", bytes / 1e9, FrozenWeights.MAX_BYTES / 1e9);
    }
    return null;
  }

  /** Bytes of a variable node's value, or -1 when its dtype is not numeric or its shape unknown. */
  static long bytes(NodeDef variable) {
    int size = elementSize(variable.getAttrOrThrow("dtype").getType());
    TensorShapeProto shape = variable.getAttrOrThrow("shape").getShape();
    if (size == 0 || shape.getUnknownRank()) {
      return -1;
    }
    long count = 1;
    for (TensorShapeProto.Dim d : shape.getDimList()) {
      if (d.getSize() < 0) {
        return -1;
      }
      count *= d.getSize();
    }
    return count * size;
  }

  private static int elementSize(DataType t) {
    return switch (t) {
      case DT_FLOAT, DT_INT32, DT_UINT32 -> 4;
      case DT_DOUBLE, DT_INT64, DT_UINT64 -> 8;
      case DT_BFLOAT16, DT_HALF, DT_INT16, DT_UINT16 -> 2;
      case DT_INT8, DT_UINT8, DT_BOOL -> 1;
      default -> 0;
    };
  }

  /** {@code "^name"}, {@code "name:1"} and {@code "name"} all name node {@code name}. */
  static String nodeName(String input) {
    String s = input.startsWith("^") ? input.substring(1) : input;
    int colon = s.lastIndexOf(':');
    return colon > 0 && s.substring(colon + 1).chars().allMatch(Character::isDigit)
        ? s.substring(0, colon) : s;
  }
}
