package org.nfnet.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import org.nfnet.cli.bench.BenchSections;
import org.nfnet.cli.bench.NativeAllocator;
import org.nfnet.training.OneDnnWeightCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code nfnet bench}: throughput and memory of the toolkit on this machine, with warm-up,
 * repetitions, medians and spread. Each section runs in its own JVM so that peak RSS is the
 * section's own. Figures are reported as measured, and as ratios against a float32 baseline (and
 * against the machine's measured matmul peak) from the same run; nothing here is a pass/fail test.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Benchmark inference, training, conversion and the machine's peak (see BENCHMARKS.md).")
final class BenchCommand implements Callable<Integer> {
  @Option(names = "--sections", split = ",", defaultValue = "peak,infer,train,convert",
      description = "Any of peak, infer, train, convert, train-profile and infer-profile (op-type breakdowns of "
          + "the training step and of an inference call), compare (A/B of the SavedModels given by "
          + "--models), pytorch (F0 inference and training timed round-robin against PyTorch "
          + "and ONNX Runtime on this machine, each precision against the same precision: "
          + "bench/pytorch/nfnet_torch.py under Debian's python3-torch, or the Python named by "
          + "NFNET_PYTHON), train-memory (memory of one training process by phase), serve "
          + "(latency of one image through `nfnet serve`'s HTTP server against the bare call); the "
          + "last six are not in the default set "
          + "(default ${DEFAULT-VALUE}).")
  List<String> sections;

  @Option(names = "--variant", defaultValue = "F0", description = "Variant (default ${DEFAULT-VALUE}).")
  String variant;

  @Option(names = "--repeats", defaultValue = "5", description = "Timed repetitions (default ${DEFAULT-VALUE}).")
  int repeats;

  @Option(names = "--warmup", defaultValue = "2", description = "Untimed warm-up runs (default ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--threads", defaultValue = "0",
      description = "Intra-op threads (0 = one per core, the default).")
  int threads;

  @Option(names = "--work-dir", defaultValue = "bench-out",
      description = "Where exported models and generated weight files are kept (default ${DEFAULT-VALUE}).")
  Path workDir;

  @Option(names = "--weights", description = "F0-size release-format file for the convert section "
      + "(default: generate one with ../shared/tools/haiku_pickle.py when available).")
  Path weights;

  @Option(names = "--json", description = "Also write all results as JSON here.")
  Path json;

  @Option(names = "--models", split = ",",
      description = "SavedModel directories for the compare section (the first is the baseline).")
  List<Path> models;

  @Option(names = "--torch-forms", split = ",",
      description = "pytorch section: only these PyTorch candidate forms (e.g. "
          + "torchscript_channels_last,eager_channels_last; default: every form). For short runs "
          + "on a loaded machine.")
  List<String> torchForms;

  @Option(names = "--batches", split = ",",
      description = "pytorch section: inference batch sizes (default 1,8).")
  List<Integer> batches;

  @Option(names = "--phases", split = ",",
      description = "pytorch section: train and/or infer (default both).")
  List<String> phases;

  /**
   * Sections whose JVM only runs inference. They run with oneDNN's weight cache on unless
   * {@code TF_ONEDNN_ASSUME_FROZEN_WEIGHTS} is set (0 measures without it), as the launcher runs
   * {@code nfnet logits}, {@code predict} and {@code serve}; every other section runs without it.
   */
  private static final Set<String> INFERENCE_ONLY = Set.of("infer", "infer-profile", "compare",
      "serve");

  @Option(names = "--child", hidden = true)
  String child;

  @Override
  public Integer call() throws Exception {
    BenchSections.Settings s = new BenchSections.Settings(variant, repeats, warmup, threads,
        workDir.toAbsolutePath(), weights,
        models == null ? null : models.stream().map(Path::toAbsolutePath).toList(), torchForms,
        batches, phases);
    if (child != null) {
      ObjectNode out = BenchSections.run(child, s);
      System.out.println(BenchSections.RESULT_PREFIX + new ObjectMapper().writeValueAsString(out));
      return 0;
    }
    Files.createDirectories(workDir);
    ObjectMapper om = new ObjectMapper();
    ObjectNode all = om.createObjectNode();
    String allocator = NativeAllocator.describe();
    System.out.printf("allocator: %s%n", allocator);
    all.put("allocator", allocator);
    for (String section : sections) {
      System.out.printf("== %s%n", section);
      ObjectNode r = section.equals("pytorch") ? pytorch() : runChild(section, phases);
      all.set(section, r);
      BenchSections.print(section, r, all);
    }
    if (json != null) {
      AtomicFiles.write(json, java.nio.ByteBuffer.wrap(om.writerWithDefaultPrettyPrinter()
          .writeValueAsBytes(all)));
    }
    return 0;
  }

  /**
   * The pytorch section's training and inference phases in two JVMs: ours infers as {@code nfnet
   * logits}/{@code serve} run (oneDNN's weight cache on), which a training process must not use.
   */
  private ObjectNode pytorch() throws Exception {
    List<String> want = phases == null ? List.of("train", "infer") : phases;
    ObjectNode r = null;
    for (String phase : List.of("train", "infer")) {
      if (!want.contains(phase)) {
        continue;
      }
      ObjectNode p = runChild("pytorch", List.of(phase));
      if (r == null) {
        r = p;
        continue;
      }
      String summary = r.path("summary").asText() + "\n" + p.path("summary").asText();
      for (String peak : List.of("peak_rss_mb", "pytorch_peak_rss_mb")) {
        p.put(peak, Math.max(r.path(peak).asDouble(), p.path(peak).asDouble()));
      }
      r.setAll(p);
      r.put("summary", summary);
    }
    if (r == null) {
      throw new UserException("--phases: expected train and/or infer, got " + phases);
    }
    return r;
  }

  private ObjectNode runChild(String section, List<String> phases) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.add("bench");
    cmd.add("--child=" + section);
    cmd.add("--variant=" + variant);
    cmd.add("--repeats=" + repeats);
    cmd.add("--warmup=" + warmup);
    cmd.add("--threads=" + threads);
    cmd.add("--work-dir=" + workDir.toAbsolutePath());
    if (weights != null) {
      cmd.add("--weights=" + weights.toAbsolutePath());
    }
    if (models != null) {
      cmd.add("--models=" + String.join(",",
          models.stream().map(m -> m.toAbsolutePath().toString()).toList()));
    }
    if (torchForms != null) {
      cmd.add("--torch-forms=" + String.join(",", torchForms));
    }
    if (batches != null) {
      cmd.add("--batches=" + String.join(",", batches.stream().map(String::valueOf).toList()));
    }
    if (phases != null) {
      cmd.add("--phases=" + String.join(",", phases));
    }
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    if (INFERENCE_ONLY.contains(section)
        || (section.equals("pytorch") && !phases.contains("train"))) {
      pb.environment().putIfAbsent(OneDnnWeightCache.VARIABLE, "1");
    } else {
      pb.environment().remove(OneDnnWeightCache.VARIABLE);
    }
    Process p = pb.start();
    String result = null;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith(BenchSections.RESULT_PREFIX)) {
          result = line.substring(BenchSections.RESULT_PREFIX.length());
        } else if (!line.startsWith("I0000") && !line.startsWith("WARNING: All log messages")) {
          System.out.println("   " + line);
        }
      }
    }
    int code = p.waitFor();
    if (code != 0 || result == null) {
      throw new IllegalStateException(String.format(Locale.ROOT,
          "bench section '%s' failed (exit %d)", section, code));
    }
    return (ObjectNode) new ObjectMapper().readTree(result);
  }
}
