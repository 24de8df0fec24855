package org.nfnet.training.data;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** Small shared helpers for the dataset implementations. */
final class Datasets {
  private Datasets() {}

  @SuppressWarnings("unchecked")
  static Batch toBatch(Pipe.Iter it) {
    return new Batch(
        (Operand<TFloat32>) it.next().get(0),
        (Operand<TInt32>) it.next().get(1),
        (Operand<TFloat32>) it.next().get(2),
        it.initializer() == null ? List.of() : List.of(it.initializer()));
  }
}
