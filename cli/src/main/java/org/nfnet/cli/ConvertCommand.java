package org.nfnet.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.nfnet.converters.ConversionInput;
import org.nfnet.converters.ReadOptions;
import org.nfnet.savedmodel.ExportDirectory;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.savedmodel.WeightsExport;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.graph.Precision;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code nfnet convert}: DeepMind release weights (or a Haiku-keyed .npz) to a serving SavedModel.
 * The file is read by the strict reader (nothing in it is executed), validated against the variant,
 * and exported through a temporary directory renamed at the end: a failed conversion leaves nothing.
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
    description = "Convert F0_haiku.npz-style release weights (or a .npz archive) to a SavedModel.")
final class ConvertCommand implements Callable<Integer> {
  @Option(names = "--weights", required = true, description = "Release pickle (F<n>_haiku.npz) or .npz archive.")
  Path weights;

  @Option(names = "--out", required = true, description = "SavedModel directory to create.")
  Path out;

  @Option(names = "--variant", defaultValue = "auto",
      description = "auto (detect from the weights), F0..F7, F0+..F7+, or a variant .json (default ${DEFAULT-VALUE}).")
  String variant;

  @Option(names = "--num-classes", description = "Classifier size, when --variant is not auto (default: the variant's).")
  Integer numClasses;

  @Option(names = "--force", description = "Replace an existing output directory if it is an earlier export of this "
      + "tool (SavedModel with its model card) or empty; anything else is refused.")
  boolean force;

  @Option(names = "--no-verify", description = "Skip the md5 check of known release file names.")
  boolean noVerify;

  @Option(names = "--strict", description = "Entries the variant does not use are errors, not warnings.")
  boolean strict;

  @Option(names = "--no-fold", description = "Keep w/gain and standardize at run time instead of exporting folded kernels.")
  boolean noFold;

  @Option(names = "--frozen", description = "Store the weights as graph constants instead of"
      + " variables: oneDNN caches their reordered filters in any runtime (nfnet logits/predict/serve"
      + " get that for variables too), GraphDef as large as the weights (float32 up to F5, bfloat16"
      + " up to F6), ~4x the memory, nothing to fine-tune from.")
  boolean frozen;

  @Mixin PrecisionOption precision;

  @Option(names = "--labels", description = "Label file (one class name per line) for non-ImageNet heads.")
  Path labels;

  @Override
  public Integer call() throws IOException {
    // Everything that can be checked cheaply is checked before the (long) conversion starts.
    InputFiles.requireRegularFile(weights, "--weights");
    if (labels != null) {
      InputFiles.requireRegularFile(labels, "--labels");
    }
    if (weights.toAbsolutePath().normalize().startsWith(out.toAbsolutePath().normalize())) {
      throw new IllegalArgumentException("--out " + out + " contains the weights " + weights
          + "; choose an output directory that does not hold them");
    }
    ExportDirectory.check(out, force);
    Precision convPrecision = precision.get();
    NFNetConfig given = null;
    if (!variant.equalsIgnoreCase("auto")) {
      given = NFNetConfig.resolve(variant);
      if (numClasses != null) {
        given = given.withNumClasses(numClasses);
      }
    } else if (numClasses != null) {
      throw new IllegalArgumentException("--num-classes needs an explicit --variant (auto reads it from the weights)");
    }
    ReadOptions opts = noVerify ? ReadOptions.defaults().withoutChecksum() : ReadOptions.defaults();
    long t0 = System.nanoTime();
    try (ConversionInput in = ConversionInput.open(weights, given, opts, strict)) {
      NFNetConfig config = in.config();
      in.warnings().forEach(w -> System.err.println("warning: " + w));
      System.out.printf("%s: %s, %,d parameters, %d classes%n", weights.getFileName(), config.name(),
          NFNetStructure.parameterCount(config), config.numClasses());
      // Streamed: the exporter requests one parameter at a time and closes it before the next, and
      // the reader reads it from the file straight into that tensor (NaN/Inf-checked there), so
      // only TF's variables ever hold the whole model (BENCHMARKS.md, "Conversion").
      NFNetExporter exporter = new NFNetExporter(config)
          .parameters(in.float32Tensors())
          .fold(!noFold)
          .frozen(frozen)
          .precision(convPrecision)
          .force(force)
          .modelCard(card(config));
      if (labels != null) {
        exporter.labelFile(labels);
      }
      // SIGINT/SIGTERM: remove this process's temporary export (kill -9 leaves it to the next run,
      // which removes temporaries of dead processes)
      Thread cleanup = new Thread(() -> ExportDirectory.abandonOwnTemporaries(out), "convert-cleanup");
      Runtime.getRuntime().addShutdownHook(cleanup);
      NFNetExporter.Result r;
      try {
        r = exporter.export(out);
      } finally {
        removeHook(cleanup);
      }
      System.out.printf("wrote %s (%.1f MB, %s kernels, %s convolutions) in %.1f s%n", r.dir(),
          r.bytes() / 1e6, r.folded() ? "folded" : "unfolded",
          convPrecision.label(),
          (System.nanoTime() - t0) / 1e9);
    }
    return 0;
  }

  private static void removeHook(Thread hook) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the JVM is exiting; the hook runs
    }
  }

  private Map<String, Object> card(NFNetConfig config) throws IOException {
    Map<String, Object> m = WeightsExport.sourceCard(weights, null);
    m.put("converted_by", "nfnet convert (TensorFlow Java 1.1.0)");
    return m;
  }
}
