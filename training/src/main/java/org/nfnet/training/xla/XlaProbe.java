package org.nfnet.training.xla;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.proto.GraphDef;

/**
 * Runs a graph under XLA auto-clustering in a child JVM and reports what was clustered
 * ({@link XlaClusterReport}), and whether XLA changed the numbers.
 *
 * <p>Why a child JVM: {@code --tf_xla_cpu_global_jit} (CPU auto-clustering), the graph dumps and
 * the clustering VLOG are switched on by environment variables that TensorFlow reads once, when
 * its native library loads. The child runs {@link XlaProbeChild} with {@code TF_XLA_FLAGS=
 * "--tf_xla_cpu_global_jit --tf_xla_clustering_debug"}, {@code TF_DUMP_GRAPH_PREFIX},
 * {@code XLA_FLAGS=--xla_dump_to} and {@code TF_CPP_VMODULE=mark_for_compilation_pass=2,
 * compilability_check_util=3}; global JIT is enabled per session (ON_2), so the same child also
 * runs the graph without XLA for the loss comparison.
 */
public final class XlaProbe {
  /** The graphs the probe knows: their name and the {@code Session.run} target reported on. */
  public enum Kind {
    /** {@code TrainStep} as {@code nfnet train --xla} builds it (CLI defaults). */
    TRAIN("train", "train/step"),
    /** The same step data-parallel over two local CPU towers ({@code DataParallel.local}). */
    TRAIN_2CPU("train-2cpu", "train/step"),
    /** The step with activation recomputation ({@code nfnet train --xla --recompute}). */
    TRAIN_RECOMPUTE("train-recompute", "train/step"),
    /** The inference forward on resource variables, images fed. */
    INFERENCE("inference", "logits");

    public final String id;
    public final String target;

    Kind(String id, String target) {
      this.id = id;
      this.target = target;
    }

    public static Kind of(String id) {
      for (Kind k : values()) {
        if (k.id.equals(id)) {
          return k;
        }
      }
      throw new IllegalArgumentException("unknown graph '" + id + "'; valid: "
          + Arrays.stream(values()).map(k -> k.id).toList());
    }
  }

  /**
   * @param variant variant name or .json path
   * @param input synthetic (in-graph random batches) or fashion (the bundled Fashion-MNIST
   *     subset through tf.data)
   * @param benchRounds inference only: interleaved XLA / plain timing rounds (0: none)
   */
  public record Options(String variant, int res, int batch, int steps, String input,
      int benchRounds) {}

  /** The result of one graph: the clustering report, losses (or logits) with and without XLA. */
  public record Result(Kind kind, XlaClusterReport.GraphReport report, int compiledClusters,
      List<String> childLines) {

    /** Values of a child line {@code key: v1 v2 ...}, or an empty list. */
    public List<Double> values(String key) {
      for (String l : childLines) {
        if (l.startsWith(key + ":")) {
          List<Double> v = new ArrayList<>();
          for (String t : l.substring(key.length() + 1).trim().split("\\s+")) {
            if (!t.isEmpty()) {
              v.add(Double.parseDouble(t));
            }
          }
          return v;
        }
      }
      return List.of();
    }
  }

  private XlaProbe() {}

  /** Runs {@code kind} in a child JVM, dumps into {@code dump/<kind>}, analyses and prints. */
  public static Result run(Kind kind, Options o, Path dump, PrintWriter out, boolean nodes)
      throws IOException, InterruptedException {
    NFNetConfig.resolve(o.variant()); // a bad variant fails here, with its own message
    Path dir = dump.resolve(kind.id).toAbsolutePath();
    if (Files.exists(dir)) {
      throw new IllegalArgumentException(dir + " exists; choose a new --dump directory");
    }
    Files.createDirectories(dir);
    Path log = dir.resolve("child-stderr.log");
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx3g",
        "-cp", System.getProperty("java.class.path"), XlaProbeChild.class.getName(),
        kind.id, o.variant(), Integer.toString(o.res()), Integer.toString(o.batch()),
        Integer.toString(o.steps()), o.input(), Integer.toString(o.benchRounds())));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile());
    Map<String, String> env = new LinkedHashMap<>();
    env.put("TF_XLA_FLAGS", "--tf_xla_cpu_global_jit --tf_xla_clustering_debug");
    env.put("TF_DUMP_GRAPH_PREFIX", dir.toString());
    env.put("XLA_FLAGS", "--xla_dump_to=" + dir.resolve("xla"));
    env.put("TF_CPP_MIN_LOG_LEVEL", "0");
    env.put("TF_CPP_VMODULE", "mark_for_compilation_pass=2,compilability_check_util=3");
    pb.environment().putAll(env);
    out.printf(Locale.ROOT, "== %s: %s at %d px, batch %d, %d steps, input %s%n", kind.id,
        o.variant(), o.res(), o.batch(), o.steps(), o.input());
    out.flush();
    Process p = pb.start();
    List<String> lines = new ArrayList<>();
    try (var r = p.inputReader(StandardCharsets.UTF_8)) {
      String l;
      while ((l = r.readLine()) != null) {
        lines.add(l);
        out.println("  " + l);
        out.flush();
      }
    }
    int rc = p.waitFor();
    if (rc != 0) {
      throw new IllegalStateException("the " + kind.id + " probe failed (exit " + rc + "); its"
          + " TensorFlow log is " + log);
    }
    GraphDef g = XlaClusterReport.findDump(dir, kind.target);
    if (g == null) {
      throw new IllegalStateException("no mark_for_compilation dump in " + dir + " contains "
          + kind.target + " (was the graph run with global JIT?)");
    }
    Map<String, String> reasons;
    try {
      reasons = XlaClusterReport.reasons(Files.readAllLines(log, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    XlaClusterReport.GraphReport rep = XlaClusterReport.analyse(g, kind.target, reasons);
    XlaClusterReport.print(out, rep, nodes);
    int compiled = XlaClusterReport.compiledClusters(dir.resolve("xla"),
        rep.clusterSizes().keySet());
    out.printf(Locale.ROOT, "XLA compiled %d of the %d clusters (HLO modules in %s)%n%n",
        compiled, rep.clusterSizes().size(), dir.resolve("xla"));
    return new Result(kind, rep, compiled, lines);
  }
}
