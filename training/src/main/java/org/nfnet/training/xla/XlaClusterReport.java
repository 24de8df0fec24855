package org.nfnet.training.xla;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * What XLA auto-clustering made of a graph: clusters, the share of nodes inside them, the
 * ref-variable ops left, and every op outside a cluster with TF's own reason.
 *
 * <p>Inputs are what TF writes when the process runs with {@code TF_DUMP_GRAPH_PREFIX} and
 * {@code TF_CPP_VMODULE=mark_for_compilation_pass=2,compilability_check_util=3} (see
 * {@link XlaProbe}): the {@code mark_for_compilation[_N].pbtxt} graph of each new
 * {@code Session.run} signature, clustered nodes carrying {@code _XlaCluster}, and the VLOG lines
 * "Found uncompilable node X (op T): reason" / "Rejecting X: reason". Nodes with no logged reason
 * were compilable but not merged into a cluster. The category column is ours (what the op is
 * part of); the reason column is TF's.
 */
public final class XlaClusterReport {
  /** A node outside every cluster, with TF's reason and our category. */
  public record Unclustered(String name, String op, String reason, String category) {}

  /**
   * Counts of one dumped graph. "Step" nodes are all nodes but the input pipeline and the
   * summaries, the part of a training step meant to compile into one cluster.
   */
  public record GraphReport(String target, int nodes, int clustered,
      Map<String, Integer> clusterSizes, List<Unclustered> unclustered, int refVariableOps,
      int stepNodes, int stepClustered, int varHandles) {

    /** Clustered share of the step's nodes, in percent. */
    public double stepCoverage() {
      return stepNodes == 0 ? 0 : 100.0 * stepClustered / stepNodes;
    }

    /**
     * Clustered share of the step's nodes other than the {@code VarHandleOp}s, in percent. TF
     * has no JIT kernel for {@code VarHandleOp} on any device: a resource variable enters an XLA
     * cluster as an argument (read on entry, written back on exit), so its handle op is never
     * clustered.
     */
    public double computeCoverage() {
      int n = stepNodes - varHandles;
      return n <= 0 ? 0 : 100.0 * stepClustered / n;
    }

    /** {@code clusters: N, nodes in clusters: P%, ref-variable ops: K} (+ coverage w/o handles). */
    public String summary() {
      String s = String.format(Locale.ROOT, "clusters: %d, nodes in clusters: %.1f%%,"
          + " ref-variable ops: %d", clusterSizes.size(), stepCoverage(), refVariableOps);
      return varHandles == 0 ? s : s + String.format(Locale.ROOT, " (%.1f%% of the nodes other"
          + " than the %d VarHandleOps, which XLA takes as cluster arguments)", computeCoverage(),
          varHandles);
    }
  }

  static final String INPUT = "input pipeline (tf.data)";
  static final String SUMMARIES = "TensorBoard summaries";
  static final String REF_STATE = "ref-variable state (VariableV2 / Assign* / in-place Apply*)";
  static final String REF_READ = "ref-variable read";

  private XlaClusterReport() {}

  private static final Pattern UNCOMPILABLE =
      Pattern.compile("Found uncompilable node (\\S+) \\(op (\\S+)\\)(?:: (.*))?$");
  private static final Pattern REJECTING =
      Pattern.compile("(?:Rejecting|Isolating|Not clustering) (\\S+): (.*)$");

  /** Node name -> TF's reason, from the VLOG lines (first reason per name). */
  public static Map<String, String> reasons(List<String> lines) {
    Map<String, String> m = new HashMap<>();
    for (String l : lines) {
      Matcher u = UNCOMPILABLE.matcher(l);
      if (u.find()) {
        m.putIfAbsent(u.group(1), u.group(3) == null ? "uncompilable" : u.group(3).trim());
        continue;
      }
      Matcher r = REJECTING.matcher(l);
      if (r.find()) {
        m.putIfAbsent(r.group(1), r.group(2).trim());
      }
    }
    return m;
  }

  /** TF's reason without the node name, so that equal reasons group. */
  static String normalise(String reason) {
    if (reason == null) {
      return "compilable, but not in any cluster (no compilable neighbour to merge with;"
          + " TF drops clusters below --tf_xla_min_cluster_size)";
    }
    if (reason.startsWith("No registered '")) {
      return "no XLA_CPU_JIT kernel for this op and these attributes";
    }
    if (reason.startsWith("Identity with unsafe cast")) {
      return "forwards a ref-typed input (\"Identity with unsafe cast\")";
    }
    return reason.replaceAll("\\{\\{node [^}]*}}", "{{node}}");
  }

  public static GraphDef parse(Path f) {
    try {
      GraphDef.Builder b = GraphDef.newBuilder();
      com.google.protobuf.TextFormat.Parser.newBuilder().setAllowUnknownFields(true).build()
          .merge(Files.readString(f, StandardCharsets.UTF_8), b);
      return b.build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code mark_for_compilation.pbtxt} and {@code mark_for_compilation_N.pbtxt} of a dump dir. */
  static List<Path> dumps(Path dir) {
    Pattern p = Pattern.compile("mark_for_compilation(_\\d+)?\\.pbtxt");
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(f -> p.matcher(f.getFileName().toString()).matches()).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The largest dumped graph with a node named {@code target}, or null. */
  public static GraphDef findDump(Path dir, String target) {
    GraphDef best = null;
    for (Path f : dumps(dir)) {
      GraphDef g = parse(f);
      boolean has = g.getNodeList().stream().anyMatch(n -> n.getName().equals(target));
      if (has && (best == null || g.getNodeCount() > best.getNodeCount())) {
        best = g;
      }
    }
    return best;
  }

  public static GraphReport analyse(GraphDef g, String target, Map<String, String> reasons) {
    Map<String, String> opOf = new HashMap<>();
    g.getNodeList().forEach(n -> opOf.put(n.getName(), n.getOp()));
    Map<String, Integer> clusters = new TreeMap<>();
    List<Unclustered> out = new ArrayList<>();
    int clustered = 0;
    int refOps = 0;
    int stepNodes = 0;
    int stepClustered = 0;
    int handles = 0;
    for (NodeDef n : g.getNodeList()) {
      handles += n.getOp().equals("VarHandleOp") ? 1 : 0;
      String input0 = n.getInputCount() == 0 ? "" : n.getInput(0).replaceFirst(":\\d+$", "");
      String cat = category(n.getOp(), n.getName(), opOf.get(input0));
      boolean step = !cat.equals(INPUT) && !cat.equals(SUMMARIES);
      if (cat.equals(REF_STATE) || cat.equals(REF_READ)) {
        refOps++;
      }
      stepNodes += step ? 1 : 0;
      AttrValue c = n.getAttrMap().get("_XlaCluster");
      if (c != null) {
        clustered++;
        stepClustered += step ? 1 : 0;
        clusters.merge(c.getS().toStringUtf8(), 1, Integer::sum);
      } else {
        out.add(new Unclustered(n.getName(), n.getOp(), normalise(reasons.get(n.getName())), cat));
      }
    }
    return new GraphReport(target, g.getNodeCount(), clustered, clusters, out, refOps, stepNodes,
        stepClustered, handles);
  }

  private static final Set<String> REF_VARIABLE_OPS = Set.of("VariableV2", "Variable", "Assign",
      "AssignAdd", "AssignSub", "ScatterUpdate", "ScatterAdd", "IsVariableInitialized",
      "ApplyMomentum", "ApplyGradientDescent", "ApplyKerasMomentum", "TemporaryVariable");
  private static final Set<String> PLUMBING_OPS = Set.of("NoOp", "Const", "Identity", "_Arg",
      "_Retval", "_Recv", "_Send", "Placeholder", "IdentityN", "Snapshot");

  /** Our grouping: what the op is part of. */
  static String category(String op, String name, String inputOp) {
    if (REF_VARIABLE_OPS.contains(op)) {
      return REF_STATE;
    }
    if ((op.equals("Identity") || op.equals("Snapshot")) && "VariableV2".equals(inputOp)) {
      return REF_READ;
    }
    if (op.equals("VarHandleOp")) {
      return "resource variable handle";
    }
    if (op.equals("ReadVariableOp") || op.equals("AssignVariableOp")
        || op.startsWith("AssignAddVariable") || op.startsWith("ResourceApply")) {
      return "resource variable read / update";
    }
    if (op.startsWith("Iterator") || op.endsWith("Dataset") || op.contains("DatasetV")
        || op.equals("MakeIterator") || op.equals("OptionalGetValue")
        || name.startsWith("input/")) {
      return INPUT;
    }
    if (op.contains("Summary") || name.startsWith("summaries/")) {
      return SUMMARIES;
    }
    if (op.equals("_FusedConv2D") || op.equals("_FusedMatMul")) {
      return "forward: Grappler CPU fusion";
    }
    if (op.startsWith("StatelessRandom")) {
      return "forward: stochastic depth / dropout mask";
    }
    if (PLUMBING_OPS.contains(op)) {
      return "graph plumbing (fetch, target, constant)";
    }
    return name.startsWith("NFNet/") ? "forward" : name.startsWith("gradients") ? "backward"
        : name.startsWith("optimizer") ? "optimizer" : "other compute";
  }

  /** The summary line, cluster sizes and the table: op outside clusters, count, part of, reason. */
  public static void print(PrintWriter out, GraphReport r, boolean nodes) {
    out.printf(Locale.ROOT, "%s%n", r.summary());
    out.printf(Locale.ROOT, "  graph of Session.run target %s: %d nodes, %d clustered (%.1f%%);"
            + " step (all but input pipeline and summaries): %d nodes, %d clustered%n",
        r.target(), r.nodes(), r.clustered(), 100.0 * r.clustered() / Math.max(1, r.nodes()),
        r.stepNodes(), r.stepClustered());
    List<Integer> sizes = new ArrayList<>(r.clusterSizes().values());
    sizes.sort(Comparator.reverseOrder());
    out.println("  cluster sizes (nodes, largest first): " + sizes);
    Map<String, Map<String, Integer>> byOp = new TreeMap<>();
    Map<String, Set<String>> cats = new HashMap<>();
    for (Unclustered u : r.unclustered()) {
      byOp.computeIfAbsent(u.op(), k -> new TreeMap<>()).merge(u.reason(), 1, Integer::sum);
      cats.computeIfAbsent(u.op(), k -> new TreeSet<>()).add(u.category());
    }
    List<Map.Entry<String, Map<String, Integer>>> rows = new ArrayList<>(byOp.entrySet());
    rows.sort((x, y) -> {
      int c = Integer.compare(total(y.getValue()), total(x.getValue()));
      return c != 0 ? c : x.getKey().compareTo(y.getKey());
    });
    out.println();
    out.println("| op outside clusters | nodes | part of | TF's reason |");
    out.println("|---|---|---|---|");
    for (var e : rows) {
      StringBuilder why = new StringBuilder();
      e.getValue().forEach((k, v) -> why.append(why.length() == 0 ? "" : "; ").append(k)
          .append(e.getValue().size() > 1 ? " (" + v + ")" : ""));
      out.printf(Locale.ROOT, "| %s | %d | %s | %s |%n", e.getKey(), total(e.getValue()),
          String.join(" / ", cats.get(e.getKey())), why);
    }
    if (nodes) {
      Map<String, List<String>> names = new TreeMap<>();
      r.unclustered().forEach(u -> names.computeIfAbsent(u.op(), k -> new ArrayList<>())
          .add(u.name()));
      names.forEach((op, ns) -> out.println("  " + op + ": " + ns));
    }
  }

  /**
   * How many of {@code clusters} XLA actually compiled: {@code --xla_dump_to} writes one HLO
   * module per compiled cluster, named after it.
   */
  public static int compiledClusters(Path xlaDump, Set<String> clusters) {
    if (!Files.isDirectory(xlaDump)) {
      return 0;
    }
    Pattern p = Pattern.compile("module_\\d+\\.(.*?)\\.before_optimizations\\.txt");
    Set<String> compiled = new TreeSet<>();
    try (Stream<Path> s = Files.list(xlaDump)) {
      for (Path f : (Iterable<Path>) s::iterator) {
        Matcher m = p.matcher(f.getFileName().toString());
        if (m.matches()) {
          String cluster = m.group(1).replaceFirst("__.*", "");
          if (clusters.contains(cluster)) {
            compiled.add(cluster);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return compiled.size();
  }

  private static int total(Map<String, Integer> m) {
    return m.values().stream().mapToInt(Integer::intValue).sum();
  }
}
