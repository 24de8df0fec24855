package org.nfnet.cli;

import java.io.DataInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Child JVM of {@link ExportTrainStepCliTest}: loads a trainable SavedModel, prints the global
 * step, the EMA logits and pooled features of a batch ({@code logits_from_normalized}), then calls {@code train_step}
 * {@code steps} times on that batch, printing each loss, and the global step again.
 * Args: SAVED_MODEL BATCH_FILE (int n, int res, n*res*res*3 floats, n int labels) STEPS.
 */
public final class TrainStepChild {
  public static void main(String[] args) throws Exception {
    float[] x;
    int[] y;
    int n;
    int res;
    try (DataInputStream in = new DataInputStream(Files.newInputStream(Path.of(args[1])))) {
      n = in.readInt();
      res = in.readInt();
      x = new float[n * res * res * 3];
      for (int i = 0; i < x.length; i++) {
        x[i] = in.readFloat();
      }
      y = new int[n];
      for (int i = 0; i < n; i++) {
        y[i] = in.readInt();
      }
    }
    try (SavedModelBundle b = SavedModelBundle.load(args[0], "serve", "train");
        TFloat32 images = TFloat32.tensorOf(Shape.of(n, res, res, 3), DataBuffers.of(x));
        TInt32 labels = TInt32.vectorOf(y)) {
      System.out.println("signatures " + b.signatures().stream().map(sig -> sig.key()).sorted()
          .collect(java.util.stream.Collectors.joining(",")));
      printStep(b);
      try (Result r = b.function("logits_from_normalized").call(Map.of("normalized", images))) {
        print("logits", (TFloat32) r.get("logits").get());
        print("pooled", (TFloat32) r.get("pooled").get());
      }
      for (int i = 0; i < Integer.parseInt(args[2]); i++) {
        try (Result r = b.function("train_step").call(Map.of("images", images, "labels", labels))) {
          System.out.println("loss " + ((TFloat32) r.get("loss").get()).getFloat());
        }
      }
      printStep(b);
    }
  }

  private static void print(String key, TFloat32 t) {
    float[] v = new float[(int) t.size()];
    t.asRawTensor().data().asFloats().read(v);
    StringBuilder sb = new StringBuilder(key);
    for (float f : v) {
      sb.append(' ').append(f);
    }
    System.out.println(sb);
  }

  private static void printStep(SavedModelBundle b) {
    try (Result r = b.session().runner().fetch("global_step_snapshot").run()) {
      System.out.println("global_step " + ((TInt64) r.get(0)).getLong());
    }
  }
}
