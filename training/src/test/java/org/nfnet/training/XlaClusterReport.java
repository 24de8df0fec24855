package org.nfnet.training;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.nfnet.training.data.DataOptions;
import org.nfnet.training.data.FashionMnist;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.GraphOperation;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.RewriterConfig;
import org.tensorflow.types.TFloat32;

/**
 * Which ops of the real training step XLA auto-clustering (global JIT ON_2 +
 * {@code --tf_xla_cpu_global_jit}) leaves outside its clusters, and TF's reason for each.
 *
 * <p>The parent process starts a child JVM (same class path) with
 * {@code TF_XLA_FLAGS="--tf_xla_cpu_global_jit --tf_xla_clustering_debug"},
 * {@code TF_DUMP_GRAPH_PREFIX=<dump>}, {@code XLA_FLAGS=--xla_dump_to=<dump>/xla} and
 * {@code TF_CPP_VMODULE=mark_for_compilation_pass=2,compilability_check_util=3}: these must be set
 * before TensorFlow's native library loads, hence the child. The child builds the real
 * {@link TrainStep} with the options {@link Trainer} builds for {@code nfnet train --xla}
 * (SGD + AGC + Nesterov, warm-up/cosine schedule, label smoothing, EMA, stochastic depth and
 * dropout, TensorBoard summaries) on the bundled Fashion-MNIST subset's tf.data pipeline (or
 * {@link SyntheticInput}), runs one logged step (with summaries) and more plain steps, and exits.
 *
 * <p>TF's mark_for_compilation pass dumps the graph of every new {@code Session.run} signature as
 * {@code mark_for_compilation[_N].pbtxt}, clustered nodes carrying {@code _XlaCluster}. The parent
 * parses the dumps of the two training-step runs (targets {@code train/step_logged} and
 * {@code train/step}) and prints node, clustered-node and cluster counts, a table op type -> nodes
 * left outside clusters with TF's reason (the VLOG lines of the child's stderr) and a category,
 * and the clusters XLA actually compiled (the HLO modules in {@code <dump>/xla}).
 *
 * <pre>
 * mvn -q -pl training -am test-compile dependency:build-classpath -Dmdep.outputFile=cp.txt
 * java -cp training/target/test-classes:training/target/classes:$(cat cp.txt) \
 *     org.nfnet.training.XlaClusterReport [--variant variants/nano.json] [--res 32] [--batch 8] \
 *     [--steps 3] [--input fashion|synthetic] [--dump DIR] [--nodes] [--analyse]
 *     [--remapping on] [--regularize false] [--seed-check]
 * </pre>
 *
 * <ul>
 *   <li>{@code --nodes} lists the unclustered node names per op type;
 *   <li>{@code --analyse} re-reads an existing {@code --dump DIR} without running anything;
 *   <li>{@code --remapping on} and {@code --regularize false} are what-if experiments, not the
 *       shipped configuration: the first runs the same graph in a second session whose Grappler
 *       remapper is on (it creates {@code _FusedConv2D}/{@code _FusedMatMul} on CPU, which have
 *       no XLA kernel; {@link TrainStep} switches remapping off under XLA since that finding),
 *       the second builds the step without stochastic depth and dropout (no int64-seeded random
 *       ops);
 *   <li>{@code --seed-check} only checks, in a small graph, that an int32-seeded
 *       {@code StatelessRandomUniform} is clustered and whether XLA draws the same numbers as TF's
 *       kernel (the dump then shows which uniform is in {@code cluster_0}).
 * </ul>
 *
 * Exit status 0 means the child ran the steps with XLA and the step dumps were found.
 */
public final class XlaClusterReport {

  /** A node outside every cluster, with TF's reason and our category. */
  record Unclustered(String name, String op, String reason, String category) {}

  /** Counts of one dumped graph. */
  record GraphReport(Path file, int nodes, int clustered, Map<String, Integer> clusterSizes,
      List<Unclustered> unclustered) {}

  private XlaClusterReport() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = parseArgs(args);
    if (a.containsKey("child")) {
      child(a);
      return;
    }
    Path dump = (a.containsKey("dump") ? Path.of(a.get("dump"))
        : Files.createTempDirectory("nfnet-xla-dump")).toAbsolutePath();
    Path log = dump.resolve("child-stderr.log");
    if (!a.containsKey("analyse")) {
      runChild(a, dump, log);
    }
    if (a.containsKey("seed-check")) {
      Path f = findDump(dump, "uniform_int32_seed");
      if (f != null) {
        for (NodeDef n : parse(f).getNodeList()) {
          if (n.getName().startsWith("uniform_")) {
            AttrValue c = n.getAttrMap().get("_XlaCluster");
            System.out.println("seed check: " + n.getName() + " -> "
                + (c == null ? "outside clusters" : c.getS().toStringUtf8()));
          }
        }
      }
      return;
    }
    Map<String, String> reasons = reasons(Files.readAllLines(log, StandardCharsets.UTF_8));
    boolean found = false;
    for (String target : List.of("train/step_logged", "train/step")) {
      Path f = findDump(dump, target);
      if (f == null) {
        System.out.println("\nno mark_for_compilation dump contains " + target);
        continue;
      }
      found = true;
      GraphReport r = analyse(parse(f), f, reasons);
      print(target, r, a.containsKey("nodes"));
      printCompiledModules(dump.resolve("xla"), r.clusterSizes().keySet());
    }
    if (!found) {
      System.exit(3);
    }
  }

  private static void runChild(Map<String, String> a, Path dump, Path log)
      throws IOException, InterruptedException {
    Files.createDirectories(dump);
    deleteTree(dump.resolve("xla"));
    try (Stream<Path> old = Files.list(dump)) {
      for (Path p : (Iterable<Path>) old::iterator) {
        if (p.getFileName().toString().endsWith(".pbtxt")) {
          Files.delete(p);
        }
      }
    }
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx2g", "-cp", System.getProperty("java.class.path"),
        XlaClusterReport.class.getName(), "--child", "--dump", dump.toString()));
    if (a.containsKey("seed-check")) {
      cmd.add("--seed-check");
    }
    for (String k : List.of("variant", "res", "batch", "steps", "input", "remapping",
        "regularize")) {
      if (a.containsKey(k)) {
        cmd.add("--" + k);
        cmd.add(a.get(k));
      }
    }
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile())
        .redirectOutput(ProcessBuilder.Redirect.INHERIT);
    Map<String, String> env = new LinkedHashMap<>();
    env.put("TF_XLA_FLAGS", "--tf_xla_cpu_global_jit --tf_xla_clustering_debug");
    env.put("TF_DUMP_GRAPH_PREFIX", dump.toString());
    env.put("XLA_FLAGS", "--xla_dump_to=" + dump.resolve("xla"));
    env.put("TF_CPP_MIN_LOG_LEVEL", "0");
    env.put("TF_CPP_VMODULE", "mark_for_compilation_pass=2,compilability_check_util=3");
    pb.environment().putAll(env);
    StringBuilder shown = new StringBuilder();
    env.forEach((k, v) -> shown.append(k).append("='").append(v).append("' "));
    System.out.println("child env: " + shown.toString().trim());
    System.out.println("child stderr: " + log);
    int rc = pb.start().waitFor();
    if (rc != 0) {
      System.err.println("child failed with exit code " + rc + "; see " + log);
      System.exit(2);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Child: the real training step with XLA.

  private static void child(Map<String, String> a) {
    if (a.containsKey("seed-check")) {
      seedCheck();
      return;
    }
    String variant = a.getOrDefault("variant", "variants/nano.json");
    int res = Integer.parseInt(a.getOrDefault("res", "32"));
    int batch = Integer.parseInt(a.getOrDefault("batch", "8"));
    int steps = Integer.parseInt(a.getOrDefault("steps", "3"));
    String in = a.getOrDefault("input", "fashion");
    boolean remapping = a.getOrDefault("remapping", "off").equals("on");
    boolean regularize = Boolean.parseBoolean(a.getOrDefault("regularize", "true"));
    Path dump = Path.of(a.get("dump"));
    NFNetConfig model = NFNetConfig.resolve(variant);
    InputSource input;
    if (in.equals("synthetic")) {
      input = new SyntheticInput(model.numClasses(), batch, res, 1000, 3L);
    } else {
      FashionMnist fm = FashionMnist.load("fashion-mnist-subset");
      DataOptions dopt = DataOptions.of(res, res).withParallelCalls(1).withPrefetch(1)
          .withShuffleBuffer(256);
      input = new DatasetInput(fm.train(dopt), fm.test(dopt), batch, 0L);
      model = model.withNumClasses(input.numClasses());
    }
    // The options Trainer builds for `nfnet train --xla` with the CLI defaults.
    TrainingConfig cfg = TrainingConfig.defaults(model, Math.max(steps, 10), dump.resolve("run"))
        .with(b -> b.step(s -> s.xla(true).regularize(regularize)));
    InputSource in0 = input;
    StepConfig opts = cfg.step().with(b -> b.schedule(cfg.schedule(in0.size(), in0.batchSize()))
        .logDir(cfg.tensorboardDir()));
    System.out.printf(Locale.ROOT, "child: %s at %d px, batch %d, input %s, EMA %.4g, AGC %.3g,"
            + " regularize %s, Grappler remapping %s%n", model.name(), res, batch, in,
        opts.emaDecay(), opts.optimizer().clipping(), regularize, remapping ? "ON (what-if)" : "OFF (TrainStep under XLA)");
    try (TrainStep s = TrainStep.create(model, input, opts)) {
      StringBuilder losses = new StringBuilder();
      long t0;
      if (!remapping) {
        s.initialize();
        t0 = System.nanoTime();
        losses.append(s.run(true).loss()).append(' ');
        for (int i = 1; i < steps; i++) {
          losses.append(s.run(false).loss()).append(' ');
        }
      } else {
        // What-if: the same graph in a session whose only difference is remapping ON.
        ConfigProto.Builder c = StepSession.config(opts).toBuilder();
        c.getGraphOptionsBuilder().getRewriteOptionsBuilder()
            .setRemapping(RewriterConfig.Toggle.ON);
        try (Session session = new Session(s.graph(), c.build())) {
          var init = session.runner().addTarget("init/init_parameters")
              .addTarget("init/reset_optimizer");
          init.run();
          var r = session.runner().addTarget("init/sync_ema");
          for (Iterator<GraphOperation> it = s.graph().operations(); it.hasNext(); ) {
            GraphOperation op = it.next();
            if ((op.type().equals("MakeIterator") && op.name().startsWith("input/"))
                || op.type().equals("CreateSummaryFileWriter")) {
              r.addTarget(op);
            }
          }
          r.run();
          t0 = System.nanoTime();
          for (int i = 0; i < steps; i++) {
            try (Result res1 = session.runner()
                .addTarget(i == 0 ? "train/step_logged" : "train/step").fetch("metrics/loss")
                .run()) {
              losses.append(((TFloat32) res1.get(0)).getFloat()).append(' ');
            }
          }
        }
      }
      System.out.printf(Locale.ROOT, "child: %d XLA steps in %.1f s (incl. compilation),"
          + " losses %s%n", steps, (System.nanoTime() - t0) / 1e9, losses.toString().trim());
    }
  }

  /**
   * Whether an int32-seeded StatelessRandomUniform (the cheap fix for the int64-seeded masks) is
   * clustered, and whether XLA draws the same numbers as TF's CPU kernel for the same seed: one
   * graph, run in a global-JIT session and in a session without JIT.
   */
  private static void seedCheck() {
    try (org.tensorflow.Graph g = new org.tensorflow.Graph()) {
      org.tensorflow.op.Ops tf = org.tensorflow.op.Ops.create(g);
      var seed = tf.withName("seed").placeholder(org.tensorflow.types.TInt64.class);
      var shape = tf.constant(new int[] {64, 1, 1, 1});
      var u32 = tf.withName("uniform_int32_seed").random.statelessRandomUniform(shape,
          tf.dtypes.cast(seed, org.tensorflow.types.TInt32.class), TFloat32.class);
      var u64 = tf.withName("uniform_int64_seed").random.statelessRandomUniform(shape, seed,
          TFloat32.class);
      // A few more ops so that the cluster passes --tf_xla_min_cluster_size.
      var m32 = tf.math.floor(tf.math.add(tf.constant(0.9f), tf.math.mul(u32, tf.constant(1f))));
      var m64 = tf.math.floor(tf.math.add(tf.constant(0.9f), tf.math.mul(u64, tf.constant(1f))));
      ConfigProto jit = StepSession.config(StepConfig.defaults().with(b -> b.xla(true)));
      float[][] v = new float[4][64];
      int k = 0;
      for (ConfigProto c : List.of(jit, ConfigProto.getDefaultInstance())) {
        try (Session s = new Session(g, c);
            var sd = org.tensorflow.types.TInt64.vectorOf(12345L, 678L);
            Result r = s.runner().feed(seed, sd).fetch(u32).fetch(u64).fetch(m32).fetch(m64)
                .run()) {
          for (int i = 0; i < 2; i++) {
            ((TFloat32) r.get(i)).asRawTensor().data().asFloats().read(v[k++]);
          }
        }
      }
      System.out.println("seed check: int32 seed, XLA session == non-XLA session: "
          + java.util.Arrays.equals(v[0], v[2]));
      System.out.println("seed check: int64 seed (outside XLA), XLA session == non-XLA session: "
          + java.util.Arrays.equals(v[1], v[3]));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Parsing and classification.

  private static final Pattern UNCOMPILABLE =
      Pattern.compile("Found uncompilable node (\\S+) \\(op (\\S+)\\)(?:: (.*))?$");
  private static final Pattern REJECTING =
      Pattern.compile("(?:Rejecting|Isolating|Not clustering) (\\S+): (.*)$");

  /** Node name -> TF's reason, from the VLOG lines (first reason per name). */
  static Map<String, String> reasons(List<String> lines) {
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
  static String normalise(String op, String reason) {
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

  static GraphDef parse(Path f) {
    try {
      GraphDef.Builder b = GraphDef.newBuilder();
      com.google.protobuf.TextFormat.Parser.newBuilder().setAllowUnknownFields(true).build()
          .merge(Files.readString(f, StandardCharsets.UTF_8), b);
      return b.build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code mark_for_compilation.pbtxt} and {@code mark_for_compilation_N.pbtxt} (not annotated). */
  static List<Path> dumps(Path dir) {
    Pattern p = Pattern.compile("mark_for_compilation(_\\d+)?\\.pbtxt");
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(f -> p.matcher(f.getFileName().toString()).matches()).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The largest dump whose graph has a node named {@code target}, or null. */
  static Path findDump(Path dir, String target) {
    Path best = null;
    int bestNodes = -1;
    for (Path f : dumps(dir)) {
      GraphDef g = parse(f);
      boolean has = g.getNodeList().stream().anyMatch(n -> n.getName().equals(target));
      if (has && g.getNodeCount() > bestNodes) {
        best = f;
        bestNodes = g.getNodeCount();
      }
    }
    return best;
  }

  static GraphReport analyse(GraphDef g, Path f, Map<String, String> reasons) {
    Map<String, String> opOf = new HashMap<>();
    g.getNodeList().forEach(n -> opOf.put(n.getName(), n.getOp()));
    Map<String, Integer> clusters = new TreeMap<>(Comparator.comparingInt(
        (String c) -> c.replaceAll("\\D", "").isEmpty() ? 0
            : Integer.parseInt(c.replaceAll("\\D", ""))).thenComparing(c -> c));
    List<Unclustered> out = new ArrayList<>();
    int clustered = 0;
    for (NodeDef n : g.getNodeList()) {
      AttrValue c = n.getAttrMap().get("_XlaCluster");
      if (c != null) {
        clustered++;
        clusters.merge(c.getS().toStringUtf8(), 1, Integer::sum);
      } else {
        String input0 = n.getInputCount() == 0 ? "" : n.getInput(0).replaceFirst(":\\d+$", "");
        out.add(new Unclustered(n.getName(), n.getOp(),
            normalise(n.getOp(), reasons.get(n.getName())),
            category(n.getOp(), n.getName(), opOf.get(input0))));
      }
    }
    return new GraphReport(f, g.getNodeCount(), clustered, clusters, out);
  }

  private static final Set<String> VARIABLE_OPS = Set.of("VariableV2", "Variable", "Assign",
      "AssignAdd", "AssignSub", "ScatterUpdate", "ScatterAdd", "IsVariableInitialized",
      "ApplyMomentum", "ApplyGradientDescent");
  private static final Set<String> PLUMBING_OPS = Set.of("NoOp", "Const", "Identity", "_Arg",
      "_Retval", "_Recv", "_Send", "Placeholder", "IdentityN", "Snapshot");

  /** Our grouping: what the op is part of. */
  static String category(String op, String name, String inputOp) {
    if (VARIABLE_OPS.contains(op)) {
      return "ref-variable state (VariableV2 / Assign* / in-place Apply* updates)";
    }
    if ((op.equals("Identity") || op.equals("Snapshot")) && "VariableV2".equals(inputOp)) {
      return "ref-variable read";
    }
    if (op.startsWith("Iterator") || op.endsWith("Dataset") || op.contains("DatasetV")
        || op.equals("MakeIterator") || op.equals("OptionalGetValue")) {
      return "input pipeline (tf.data)";
    }
    if (op.contains("Summary") || name.startsWith("summaries/")) {
      return "TensorBoard summaries";
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
        : "other compute";
  }

  private static void print(String target, GraphReport r, boolean nodes) {
    System.out.printf(Locale.ROOT, "%n== Session.run target %s (%s)%n", target,
        r.file().getFileName());
    int outside = r.unclustered().size();
    System.out.printf(Locale.ROOT,
        "nodes %d | clustered %d (%.1f%%) | clusters %d | outside clusters %d%n", r.nodes(),
        r.clustered(), 100.0 * r.clustered() / r.nodes(), r.clusterSizes().size(), outside);
    List<Map.Entry<String, Integer>> sizes = new ArrayList<>(r.clusterSizes().entrySet());
    sizes.sort((x, y) -> Integer.compare(y.getValue(), x.getValue()));
    StringBuilder sz = new StringBuilder();
    sizes.forEach(e -> sz.append(sz.length() == 0 ? "" : ", ").append(e.getValue()));
    System.out.println("cluster sizes (nodes, largest first): " + sz);

    // op -> reason -> count, op -> categories
    Map<String, Map<String, Integer>> byOp = new TreeMap<>();
    Map<String, Set<String>> cats = new HashMap<>();
    Map<String, Integer> byCat = new TreeMap<>();
    for (Unclustered u : r.unclustered()) {
      byOp.computeIfAbsent(u.op(), k -> new TreeMap<>()).merge(u.reason(), 1, Integer::sum);
      cats.computeIfAbsent(u.op(), k -> new TreeSet<>()).add(u.category());
      byCat.merge(u.category(), 1, Integer::sum);
    }
    List<Map.Entry<String, Map<String, Integer>>> rows = new ArrayList<>(byOp.entrySet());
    rows.sort((x, y) -> {
      int c = Integer.compare(total(y.getValue()), total(x.getValue()));
      return c != 0 ? c : x.getKey().compareTo(y.getKey());
    });
    System.out.println();
    System.out.println("| op outside clusters | nodes | part of | TF's reason |");
    System.out.println("|---|---|---|---|");
    for (var e : rows) {
      StringBuilder why = new StringBuilder();
      e.getValue().forEach((k, v) -> why.append(why.length() == 0 ? "" : "; ").append(k)
          .append(e.getValue().size() > 1 ? " (" + v + ")" : ""));
      System.out.printf(Locale.ROOT, "| %s | %d | %s | %s |%n", e.getKey(), total(e.getValue()),
          String.join(" / ", cats.get(e.getKey())), why);
    }
    System.out.println();
    System.out.println("by category: " + byCat);
    if (nodes) {
      Map<String, List<String>> names = new TreeMap<>();
      r.unclustered().forEach(u -> names.computeIfAbsent(u.op(), k -> new ArrayList<>())
          .add(u.name()));
      names.forEach((op, ns) -> System.out.println("  " + op + ": " + ns));
    }
  }

  /**
   * The HLO modules XLA compiled for {@code clusters} ({@code --xla_dump_to} writes one module per
   * compiled cluster, named after it): proof that the clusters ran through XLA.
   */
  private static void printCompiledModules(Path xla, Set<String> clusters) throws IOException {
    if (!Files.isDirectory(xla)) {
      System.out.println("no XLA dump directory " + xla);
      return;
    }
    Pattern p = Pattern.compile("module_\\d+\\.(.*?)\\.before_optimizations\\.txt");
    Set<String> compiled = new TreeSet<>();
    int withRefVars = 0;
    try (Stream<Path> s = Files.list(xla)) {
      for (Path f : (Iterable<Path>) s::iterator) {
        Matcher m = p.matcher(f.getFileName().toString());
        if (!m.matches()) {
          continue;
        }
        String cluster = m.group(1).replaceFirst("__.*", "");
        if (clusters.contains(cluster) && compiled.add(cluster)
            && m.group(1).contains("_XlaHasReferenceVars_true")) {
          withRefVars++;
        }
      }
    }
    System.out.printf(Locale.ROOT, "XLA compiled %d of these %d clusters (HLO modules in %s;"
        + " %d marked _XlaHasReferenceVars_true)%n", compiled.size(), clusters.size(), xla,
        withRefVars);
  }

  private static int total(Map<String, Integer> m) {
    return m.values().stream().mapToInt(Integer::intValue).sum();
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(f);
      }
    }
  }

  private static Map<String, String> parseArgs(String[] args) {
    Map<String, String> m = new HashMap<>();
    Set<String> flags = Set.of("child", "nodes", "analyse", "seed-check");
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument " + args[i]);
      }
      String k = args[i].substring(2);
      if (flags.contains(k)) {
        m.put(k, "true");
      } else {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException("--" + k + " needs a value");
        }
        m.put(k, args[++i]);
      }
    }
    return m;
  }
}
