package org.nfnet.training.data;

import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TFOutOfRangeException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** Test helper: one pipeline step copied to Java arrays. */
record Fetch(Shape shape, float[] images, int[] labels, float[] targets) {
  static Fetch next(Session s, Batch b) {
    try (Result r = s.runner().fetch(b.images()).fetch(b.labels()).fetch(b.targets()).run()) {
      TFloat32 img = (TFloat32) r.get(0);
      TInt32 lab = (TInt32) r.get(1);
      TFloat32 tgt = (TFloat32) r.get(2);
      float[] i = new float[(int) img.size()];
      img.copyTo(DataBuffers.of(i, false, false));
      int[] l = new int[(int) lab.size()];
      lab.copyTo(DataBuffers.of(l, false, false));
      float[] t = new float[(int) tgt.size()];
      tgt.copyTo(DataBuffers.of(t, false, false));
      return new Fetch(img.shape(), i, l, t);
    }
  }

  /** The next batch of a one-pass (eval) stream, or null at its end. */
  static Fetch nextInPass(Session s, Batch b) {
    try {
      return next(s, b);
    } catch (TFOutOfRangeException end) {
      return null;
    }
  }

  static float[] eval(Session s, Operand<TFloat32> x) {
    try (Result r = s.runner().fetch(x).run()) {
      TFloat32 t = (TFloat32) r.get(0);
      float[] a = new float[(int) t.size()];
      t.copyTo(DataBuffers.of(a, false, false));
      return a;
    }
  }

  static void init(Session s, Batch b) {
    if (!b.initializers().isEmpty()) {
      var r = s.runner();
      b.initializers().forEach(r::addTarget);
      r.run();
    }
  }

  int n() {
    return labels.length;
  }
}
