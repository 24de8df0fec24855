package org.nfnet.examples;

import java.io.IOException;
import java.nio.file.Path;
import org.nfnet.savedmodel.NFNetModel;

/**
 * Classifies images with an exported NFNet and prints the five most likely labels of each.
 *
 * <pre>Classify MODEL_DIR IMAGE...</pre>
 */
public final class Classify {
  private Classify() {}

  /**
   * Runs the example.
   *
   * @param args the SavedModel directory, then one or more JPEG/PNG/GIF/BMP files
   * @throws IOException if the model or an image cannot be read
   */
  public static void main(String[] args) throws IOException {
    try (NFNetModel model = NFNetModel.load(Path.of(args[0]))) {
      for (int i = 1; i < args.length; i++) {
        System.out.println(args[i]);
        for (NFNetModel.Prediction p : model.predict(Path.of(args[i]))) {
          System.out.printf("  %-24s %.4f%n", p.label(), p.probability());
        }
      }
    }
  }
}
