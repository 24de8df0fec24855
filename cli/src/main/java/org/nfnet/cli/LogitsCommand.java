package org.nfnet.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import org.nfnet.savedmodel.NFNetModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code nfnet logits}: raw float32 NHWC in, raw float32 logits out, through the
 * {@code logits_from_normalized} signature. Parity checks use it, so it does nothing else.
 */
@Command(name = "logits", mixinStandardHelpOptions = true,
    description = "Run logits_from_normalized on a raw float32 little-endian NHWC file.")
final class LogitsCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "SavedModel directory.")
  Path model;

  @Option(names = "--input", required = true, description = "Raw float32 little-endian NHWC file.")
  Path input;

  @Option(names = "--shape", required = true, description = "N,H,W,3")
  String shape;

  @Option(names = "--out", required = true, description = "Output: raw float32 little-endian [N, classes].")
  Path out;

  @Mixin FreezeOption freezing;

  @Override
  public Integer call() throws IOException {
    int[] s = parseShape(shape);
    long expected = 4L * s[0] * s[1] * s[2] * s[3];
    long size = Files.size(input);
    if (size != expected) {
      throw new IllegalArgumentException(input + " has " + size + " bytes but --shape " + shape
          + " needs " + expected);
    }
    ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(input)).order(ByteOrder.LITTLE_ENDIAN);
    float[][] logits;
    try (NFNetModel m = NFNetModel.load(model,
        NFNetModel.Options.defaults().withFreeze(freezing.freeze))) {
      logits = m.logitsFromNormalized(in.asFloatBuffer(), s[0], s[1], s[2]);
    }
    ByteBuffer o = ByteBuffer.allocate(4 * logits.length * logits[0].length).order(ByteOrder.LITTLE_ENDIAN);
    for (float[] row : logits) {
      for (float v : row) {
        o.putFloat(v);
      }
    }
    o.flip();
    AtomicFiles.write(out, o);
    System.out.printf("wrote %s: %d x %d float32%n", out, logits.length, logits[0].length);
    return 0;
  }

  static int[] parseShape(String text) {
    String[] parts = text.split(",");
    if (parts.length != 4) {
      throw new IllegalArgumentException("--shape must be N,H,W,3, got '" + text + "'");
    }
    int[] s = new int[4];
    for (int i = 0; i < 4; i++) {
      try {
        s[i] = Integer.parseInt(parts[i].trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--shape must be N,H,W,3, got '" + text + "'");
      }
      if (s[i] <= 0) {
        throw new IllegalArgumentException("--shape must be positive, got '" + text + "'");
      }
    }
    if (s[3] != 3) {
      throw new IllegalArgumentException("--shape must have 3 channels, got '" + text + "'");
    }
    return s;
  }
}
