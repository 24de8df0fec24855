package org.nfnet.cli;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.training.TrainStep;
import org.nfnet.zoo.NFNetConfig;

/** Exports a trained model's evaluation (EMA) weights as a serving SavedModel. */
final class ModelExport {
  private ModelExport() {}

  /**
   * @param cropPadding eval preprocessing of the image signatures (32: DeepMind's resize_crop_32;
   *     0: plain resize, what the Fashion-MNIST pipeline evaluates with)
   * @param labels class names in index order, or null for the exporter's default
   */
  static NFNetExporter.Result export(TrainStep step, NFNetConfig config, Path dir,
      int cropPadding, List<String> labels, Map<String, Object> card) throws IOException {
    Map<String, FloatBuffer> values = new LinkedHashMap<>();
    step.evalWeights().forEach((k, v) -> values.put(k, FloatBuffer.wrap(v)));
    NFNetExporter e = new NFNetExporter(config).parameters(values).cropPadding(cropPadding)
        .force(true).modelCard(card);
    if (labels != null) {
      e.labels(labels);
    }
    return e.export(dir);
  }
}
