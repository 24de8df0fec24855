package org.nfnet.savedmodel;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nfnet.converters.ConversionInput;
import org.nfnet.converters.ReleaseChecksums;

/**
 * A validated weight file exported as a SavedModel: the part {@code nfnet convert} and
 * {@code nfnet pull} ({@link Pretrained}) share. Parameters stream from the file into the export
 * one at a time (see {@link ConversionInput#float32Tensors()}); the model card records the source.
 */
public final class WeightsExport {
  private WeightsExport() {}

  /**
   * Model-card fields describing the source file: {@code source_file}, {@code source_md5},
   * {@code source_bytes}, and {@code release_md5} for files named like a DeepMind release.
   *
   * @param md5OrNull the file's md5 if already known (e.g. computed while downloading), else it is
   *     computed here (one read of the file)
   */
  public static Map<String, Object> sourceCard(Path weights, String md5OrNull) throws IOException {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("source_file", weights.toAbsolutePath().toString());
    try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.READ)) {
      m.put("source_md5", md5OrNull != null ? md5OrNull : ReleaseChecksums.md5(ch));
      m.put("source_bytes", ch.size());
    }
    ReleaseChecksums.expectedMd5(weights).ifPresent(md5 -> m.put("release_md5", md5));
    return m;
  }

  /** An exporter for the validated input's variant, fed from its parameters, with these card fields. */
  public static NFNetExporter exporter(ConversionInput in, Map<String, Object> card) {
    return new NFNetExporter(in.config()).parameters(in.float32Tensors()).modelCard(card);
  }
}
