package org.nfnet.training;

import java.util.List;
import org.nfnet.zoo.graph.NameScopes;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * The training state besides the parameters: the global step and every float state variable
 * (optimizer slots, EMA averages). All of them are created here, so the kind of variable they are
 * (today TF1 {@code VariableV2}, checkpointed by {@code Session.save}) is decided in one place.
 *
 * <p>The global step is read once ({@link #step()}); everything that depends on the step (learning
 * rate, regularisation seeds, EMA warm-up, summaries) reads it through that one read, and
 * {@link #increment} advances it after a given set of ops, since a {@code VariableV2} read aliases
 * the variable's buffer.
 */
public final class TrainState {
  public static final String GLOBAL_STEP = "global_step";

  private final NameScopes scopes;
  private final Variable<TInt64> globalStep;
  private final Operand<TInt64> step;

  /** Creates the global step in {@code tf}'s scope (device included). */
  TrainState(Ops tf) {
    scopes = new NameScopes(tf);
    globalStep = tf.withName(GLOBAL_STEP).variable(Shape.scalar(), TInt64.class);
    step = tf.withName("global_step_read").identity(globalStep);
  }

  /**
   * A float32 state variable with the full graph name {@code name}. Create state early, while the
   * graph is small: TF Java scans the whole graph for every new name scope.
   */
  public Variable<TFloat32> variable(String name, long[] shape) {
    return scopes.named(name).variable(Shape.of(shape), TFloat32.class);
  }

  /** The global step before this update (int64 scalar). */
  public Operand<TInt64> step() {
    return step;
  }

  /**
   * The global step this update is computed at, copied (a fetched read of the variable would alias
   * its buffer and show the incremented value).
   */
  Operand<TInt64> stepValue(Ops tf) {
    return tf.math.add(step, tf.constant(0L));
  }

  /** {@code global_step += 1} after every op in {@code after}, then a no-op named {@code name}. */
  Op increment(Ops tf, List<Op> after, String name) {
    return tf.withControlDependencies(List.of(tf.withControlDependencies(after)
        .assignAdd(globalStep, tf.constant(1L)))).withName(name).noOp();
  }

  /** Sets the global step to 0. */
  Op reset(Ops tf) {
    return tf.assign(globalStep, tf.constant(0L));
  }
}
