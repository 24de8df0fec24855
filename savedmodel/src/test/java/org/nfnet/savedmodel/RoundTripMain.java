package org.nfnet.savedmodel;

import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TUint8;

/**
 * Fresh-process half of the round-trip test: loads an export, runs serving_default on raw uint8
 * pixels, writes the logits as big-endian float bits. Args: dir pixelsFile n h w outFile.
 */
public final class RoundTripMain {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    byte[] px = Files.readAllBytes(Path.of(args[1]));
    int n = Integer.parseInt(args[2]);
    int h = Integer.parseInt(args[3]);
    int w = Integer.parseInt(args[4]);
    try (NFNetModel m = NFNetModel.load(dir);
        TUint8 t = TUint8.tensorOf(Shape.of(n, h, w, 3), DataBuffers.of(px, true, false));
        DataOutputStream out = new DataOutputStream(new FileOutputStream(args[5]))) {
      float[][] logits = m.predictUint8(t).logits();
      out.writeInt(logits.length);
      out.writeInt(logits[0].length);
      for (float[] row : logits) {
        for (float f : row) {
          out.writeInt(Float.floatToRawIntBits(f));
        }
      }
    }
  }
}
