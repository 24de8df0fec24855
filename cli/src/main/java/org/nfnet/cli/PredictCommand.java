package org.nfnet.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import org.nfnet.savedmodel.BadImageException;
import org.nfnet.savedmodel.NFNetModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code nfnet predict}: top-k classes per image. A bad image is reported by name and the others
 * are still processed; the exit code is 0 when every image was classified, 1 when some input
 * failed (2 for a bad option or model). With {@code --json}, one JSON object per image and line.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
    description = "Classify images with an exported NFNet SavedModel.")
final class PredictCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, description = "SavedModel directory.")
  java.nio.file.Path model;

  @Option(names = "--top", defaultValue = "5",
      description = "Classes to show per image, 1 .. the model's classes (default ${DEFAULT-VALUE}).")
  int top;

  @Option(names = "--json", description = "One JSON object per image and line: {\"path\", \"top\": "
      + "[{\"label\", \"index\", \"probability\"}]} or {\"path\", \"error\"}.")
  boolean json;

  @Option(names = {"-r", "--recursive"}, description = "Include images in sub-directories of "
      + "directory arguments (and let globs match at any depth).")
  boolean recursive;

  @Option(names = "--max-image-bytes", defaultValue = "67108864",
      description = "Larger files are refused without being read (default ${DEFAULT-VALUE} = 64 MB).")
  long maxImageBytes;

  @Mixin FreezeOption freezing;

  @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "JPEG/PNG/GIF/BMP files, "
      + "directories of them, or quoted glob patterns ('photos/*.jpg').")
  List<String> images;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (top < 1) {
      throw new UserException("--top " + top + ": must be at least 1");
    }
    if (maxImageBytes < 1) {
      throw new UserException("--max-image-bytes " + maxImageBytes + ": must be at least 1");
    }
    List<ImageInputs.Input> inputs = ImageInputs.expand(images, recursive);
    int failed = 0;
    try (NFNetModel m = NFNetModel.load(model,
        NFNetModel.Options.defaults().withFreeze(freezing.freeze))) {
      if (top > m.numClasses()) {
        throw new UserException("--top " + top + ": the model has " + m.numClasses() + " classes");
      }
      for (ImageInputs.Input in : inputs) {
        String error = in.error();
        List<NFNetModel.Prediction> p = null;
        if (error == null) {
          try {
            p = topK(m, m.predictEncoded(List.of(ImageInputs.read(in.path(), maxImageBytes))), top);
          } catch (NoSuchFileException e) {
            error = "no such file";
          } catch (BadImageException e) {
            error = e.reason();
          } catch (RuntimeException | java.io.IOException | OutOfMemoryError e) {
            // One bad input never stops the others; OutOfMemoryError included: a decoder's
            // allocation for one absurd image fails alone.
            error = e.getMessage() != null ? e.getMessage() : e.toString();
          }
        }
        if (error != null) {
          failed++;
        }
        print(out, err, in, p, error);
      }
    }
    if (failed > 0) {
      err.printf("%d of %d image(s) failed%n", failed, inputs.size());
    }
    out.flush();
    err.flush();
    return failed == 0 ? 0 : 1;
  }

  /** The {@code k} most probable classes (any k up to the number of classes). */
  static List<NFNetModel.Prediction> topK(NFNetModel m, NFNetModel.Outputs o, int k) {
    float[] probs = o.probabilities()[0];
    List<String> labels = m.labels();
    return IntStream.range(0, probs.length).boxed()
        .sorted(Comparator.comparingDouble((Integer i) -> -probs[i]).thenComparingInt(i -> i))
        .limit(k).map(i -> new NFNetModel.Prediction(i < labels.size() ? labels.get(i) : "class " + i,
            i, probs[i])).toList();
  }

  private void print(PrintWriter out, PrintWriter err, ImageInputs.Input in,
      List<NFNetModel.Prediction> p, String error) {
    if (json) {
      ObjectNode o = JSON.createObjectNode().put("path", in.path().toString());
      if (error != null) {
        o.put("error", error);
      } else {
        ArrayNode a = o.putArray("top");
        for (NFNetModel.Prediction x : p) {
          a.addObject().put("label", x.label()).put("index", x.index())
              .put("probability", x.probability());
        }
      }
      out.println(o);
    } else if (error != null) {
      err.println("error: " + (error.equals("no such file") ? "no such file: " + in.path()
          : in.path() + ": " + error));
    } else {
      out.println(in.path());
      for (int i = 0; i < p.size(); i++) {
        out.printf(Locale.ROOT, "  %d. %-32s %6.2f%%  (class %d)%n", i + 1, p.get(i).label(),
            100 * p.get(i).probability(), p.get(i).index());
      }
    }
    out.flush();
  }
}
