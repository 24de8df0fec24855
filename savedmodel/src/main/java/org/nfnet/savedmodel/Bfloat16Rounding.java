package org.nfnet.savedmodel;

import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * float32 host tensors rounded to bfloat16 by TF's own {@code Cast} (round to nearest, ties to
 * even), in a private graph. Why not on the host: TF Java's bfloat16 tensors convert a float by
 * dropping its low 16 bits (truncation), which is not the value a bf16 graph computes with.
 */
final class Bfloat16Rounding implements AutoCloseable {
  private final Graph graph = new Graph();
  private final Session session = new Session(graph);
  private final Placeholder<TFloat32> in;
  private final Operand<TBfloat16> out;

  Bfloat16Rounding() {
    Ops tf = Ops.create(graph);
    in = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.unknown()));
    out = tf.dtypes.cast(in, TBfloat16.class);
  }

  /** {@code value} in bfloat16; the caller closes both tensors. */
  TBfloat16 round(TFloat32 value) {
    // The run's only output, handed to the caller (closing the Result would close it).
    return (TBfloat16) session.runner().feed(in, value).fetch(out).run().get(0);
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
