package org.nfnet.training;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.zoo.graph.NameScopes;
import org.nfnet.zoo.graph.ResourceParameters;
import org.nfnet.zoo.graph.ResourceSaver;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * Every variable of a training step, all of them resource variables ({@code VarHandleOp},
 * {@code ReadVariableOp}, {@code AssignVariableOp}: what XLA compiles into the step and TF2 loads
 * as {@code tf.Variable}s), created here so their kind and names are decided in one place: the
 * global step, the parameters ({@link #parameters()}, the forward graph's source) and every float
 * state variable the optimizer and the EMA ask for ({@link #variable}).
 *
 * <p>Names are those of the earlier {@code VariableV2} step ({@code global_step},
 * {@code NFNet/...}, {@code optimizer/momentum/NFNet/...}, {@code ema/NFNet/...}) and checkpoint
 * keys are variable names ({@link #saver}), so checkpoints of either restore into the other.
 *
 * <p>The global step is read once ({@link #step()}); everything that depends on it (learning
 * rate, regularisation masks, EMA warm-up, summaries) uses that read, and {@link #increment}
 * writes {@code read + 1}: the data edge from the read lets XLA compile the increment with the
 * rest of the step (a lone {@code AssignAddVariableOp} stays outside the cluster).
 */
public final class TrainState {
  public static final String GLOBAL_STEP = "global_step";

  private final NameScopes scopes;
  private final ResourceVariables variables = new ResourceVariables();
  private final ResourceVariables.Variable<TInt64> globalStep;
  private final Operand<TInt64> step;
  private final ResourceParameters parameters;

  /**
   * Creates the global step in {@code tf}'s scope (device included).
   *
   * @param seed parameters draw their Haiku-style initial values from {@code [seed, 0x1234]}
   */
  TrainState(Ops tf, long seed) {
    scopes = new NameScopes(tf);
    Ops init = tf.withSubScope("state_init");
    globalStep = variables.create(scopes.named(GLOBAL_STEP), GLOBAL_STEP, Shape.scalar(),
        TInt64.class, init.constant(0L), false);
    step = tf.withName("global_step_read").readVariableOp(globalStep.handle(), TInt64.class);
    parameters = new ResourceParameters(variables, init.constant(new long[] {seed, 0x1234L}));
  }

  /**
   * A float32 state variable named {@code name} (full graph name), initialised to zeros by its
   * {@code initializer()}. Create state early, while the graph is small: TF Java scans the whole
   * graph for every new name scope.
   */
  public ResourceVariables.Variable<TFloat32> variable(String name, long[] shape) {
    return variables.create(scopes.named(name), name, Shape.of(shape), TFloat32.class, null,
        false);
  }

  /** The parameters; each one exists once the forward graph has asked for it. */
  public ResourceParameters parameters() {
    return parameters;
  }

  /** The global step before this update (int64 scalar, one read for the whole step). */
  public Operand<TInt64> step() {
    return step;
  }

  /** Every variable of the step, in creation order (what a checkpoint or SavedModel holds). */
  public ResourceVariables variables() {
    return variables;
  }

  /** {@code global_step <- step() + 1} after every op in {@code after}, named {@code name}. */
  Op increment(Ops tf, List<Op> after, String name) {
    Ops t = tf.withControlDependencies(after);
    return t.withName(name).assignVariableOp(globalStep.handle(),
        t.math.add(step, t.constant(1L)));
  }

  /** Gives every parameter its Haiku-style initial value (one op, named by {@code named}). */
  Op initParameters(Ops named) {
    return named.withControlDependencies(parameters.entries().stream()
        .map(e -> e.variable().initializer()).toList()).noOp();
  }

  /** Sets the global step to 0. */
  Op reset() {
    return globalStep.initializer();
  }

  /** Current values of float variables (snapshots, nothing fed), by the caller's keys, in one run. */
  static Map<String, float[]> values(Session session,
      Map<String, ResourceVariables.Variable<TFloat32>> variables) {
    var r = session.runner();
    variables.values().forEach(v -> r.fetch(v.snapshot()));
    Map<String, float[]> out = new LinkedHashMap<>();
    try (Result res = r.run()) {
      int i = 0;
      for (String k : variables.keySet()) {
        TFloat32 t = (TFloat32) res.get(i++);
        float[] a = new float[(int) t.size()];
        t.asRawTensor().data().asFloats().read(a);
        out.put(k, a);
      }
    }
    return out;
  }

  /** The checkpoint saver of every variable; build it after the last variable. */
  ResourceSaver saver(Graph graph) {
    return ResourceSaver.build(graph, variables);
  }
}
