package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;

/**
 * Kernel time from {@code RunOptions.FULL_TRACE} step stats, summed per op type and per a
 * caller-chosen group of node names (e.g. the phase of a training step). Shared by the profile
 * sections; shares, not absolute times, are what they report, since the trace adds overhead and
 * inter-op threads overlap kernels. With the environment variable {@code NFNET_PROFILE_TSV} set
 * to a directory, every kernel's op type, node name and summed microseconds are also written
 * there ({@code <key>.tsv}) for a closer look.
 */
final class KernelTally {
  /** Run options that make a session return the step stats this class reads. */
  static final RunOptions TRACE =
      RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
  private static final int TOP = 15;
  private final Map<String, long[]> byType = new HashMap<>(); // op type -> {micros, kernels}
  private final Map<String, long[]> byGroup = new HashMap<>();
  private final Map<String, long[]> byNode = new HashMap<>(); // "type name" -> {micros, kernels}
  private final BiFunction<String, String, String> group;
  private long total;

  /** @param group maps a node name and its op type to the node's group ("forward", ...) */
  KernelTally(BiFunction<String, String, String> group) {
    this.group = group;
  }

  void add(RunMetadata md) {
    for (DeviceStepStats d : md.getStepStats().getDevStatsList()) {
      for (NodeExecStats n : d.getNodeStatsList()) {
        long us = n.getAllEndRelMicros();
        String type = opType(n.getTimelineLabel());
        count(byType, type, us);
        count(byGroup, group.apply(n.getNodeName(), type), us);
        count(byNode, type + " " + n.getNodeName(), us);
        total += us;
      }
    }
  }

  /**
   * Writes {@code <key>_ms_per_<unit>_by_op} and {@code _by_<groupName>} into {@code r}, and the
   * top op types, every group and the slowest kernels into {@code summary}, all divided by
   * {@code runs}; with {@code NFNET_PROFILE_TSV} set, also the per-kernel table.
   */
  void report(ObjectNode r, StringBuilder summary, String key, String unit, String groupName,
      String title, int runs) {
    summary.append(String.format(Locale.ROOT, "%s: %.0f ms of kernel time per %s (FULL_TRACE, %d"
        + " %ss)%n", title, total / 1e3 / runs, unit, runs, unit));
    ObjectNode ops = r.putObject(key + "_ms_per_" + unit + "_by_op");
    List<Map.Entry<String, long[]>> types = slowestFirst(byType);
    types.forEach(e -> ops.put(e.getKey(), e.getValue()[0] / 1e3 / runs));
    types.stream().limit(TOP).forEach(e -> summary.append(String.format(Locale.ROOT,
        "  %-44s %8.1f ms %5.1f%%  (%d kernels)%n", e.getKey(), e.getValue()[0] / 1e3 / runs,
        100.0 * e.getValue()[0] / total, e.getValue()[1] / runs)));
    ObjectNode groups = r.putObject(key + "_ms_per_" + unit + "_by_" + groupName);
    summary.append("  by ").append(groupName).append(':');
    slowestFirst(byGroup).forEach(e -> {
      groups.put(e.getKey(), e.getValue()[0] / 1e3 / runs);
      summary.append(String.format(Locale.ROOT, " %s %.0f ms (%.1f%%);", e.getKey(),
          e.getValue()[0] / 1e3 / runs, 100.0 * e.getValue()[0] / total));
    });
    String dir = System.getenv("NFNET_PROFILE_TSV");
    if (dir != null) {
      StringBuilder tsv = new StringBuilder();
      byNode.forEach((k, v) -> tsv.append(k.replaceFirst(" ", "\t")).append('\t')
          .append(v[0] / runs).append('\n'));
      try {
        org.nfnet.cli.AtomicFiles.write(java.nio.file.Path.of(dir, key + ".tsv"),
            java.nio.ByteBuffer.wrap(tsv.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    summary.append(System.lineSeparator()).append("  slowest kernels:").append(System.lineSeparator());
    slowestFirst(byNode).stream().limit(TOP).forEach(e -> summary.append(String.format(Locale.ROOT,
        "    %8.1f ms  %s%n", e.getValue()[0] / 1e3 / runs, e.getKey())));
  }

  /** Adds one kernel of {@code micros} to {@code key}'s {micros, kernels}. */
  private static void count(Map<String, long[]> totals, String key, long micros) {
    long[] v = totals.computeIfAbsent(key, k -> new long[2]);
    v[0] += micros;
    v[1]++;
  }

  private static List<Map.Entry<String, long[]>> slowestFirst(Map<String, long[]> totals) {
    return totals.entrySet().stream()
        .sorted((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0])).toList();
  }

  /** Op type from a step-stats timeline label ({@code "name = Type(inputs)"}). */
  static String opType(String label) {
    int eq = label.indexOf(" = ");
    String t = eq < 0 ? label : label.substring(eq + 3);
    int paren = t.indexOf('(');
    return paren < 0 ? t : t.substring(0, paren);
  }
}
