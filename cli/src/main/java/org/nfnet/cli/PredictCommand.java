package org.nfnet.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.nfnet.savedmodel.NFNetModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code nfnet predict}: top-k classes per image. A bad image is reported by name and the others
 * are still processed; the exit code is 0 only if every image succeeded.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
    description = "Classify images with an exported NFNet SavedModel.")
final class PredictCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, description = "SavedModel directory.")
  Path model;

  @Option(names = "--top", defaultValue = "5", description = "Classes to show (default ${DEFAULT-VALUE}, at most the export's k).")
  int top;

  @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "JPEG/PNG/GIF/BMP files.")
  List<Path> images;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    int failed = 0;
    try (NFNetModel m = NFNetModel.load(model)) {
      for (Path image : images) {
        try {
          List<NFNetModel.Prediction> p = m.predict(image);
          out.println(image);
          for (int i = 0; i < Math.min(top, p.size()); i++) {
            out.printf("  %d. %-32s %6.2f%%  (class %d)%n", i + 1, p.get(i).label(),
                100 * p.get(i).probability(), p.get(i).index());
          }
        } catch (RuntimeException | java.io.IOException e) {
          failed++;
          err.println("error: " + image + ": " + e.getMessage());
        }
      }
    }
    if (failed > 0) {
      err.printf("%d of %d image(s) failed%n", failed, images.size());
    }
    return failed == 0 ? 0 : 1;
  }
}
