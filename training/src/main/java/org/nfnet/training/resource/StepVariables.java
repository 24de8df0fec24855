package org.nfnet.training.resource;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.NameScopes;
import org.nfnet.zoo.graph.ResourceParameters;
import org.nfnet.zoo.graph.ResourceSaver;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.Graph;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * Every state variable of a training step, all resource variables, created in one place:
 * the global step, the parameters (as the forward graph's {@link ResourceParameters} source), a
 * momentum slot per trainable parameter and an EMA shadow per parameter.
 *
 * <p>Names are those of today's {@code VariableV2} step ({@code global_step},
 * {@code NFNet/...}, {@code optimizer/momentum/NFNet/...}, {@code ema/NFNet/...}), so a
 * checkpoint of either restores into the other through {@link #saver}. Slots and shadows are
 * created before the forward graph, while the graph is small (TF Java scans the whole graph for
 * every new name scope).
 */
public final class StepVariables {
  public static final String GLOBAL_STEP = "global_step";
  public static final String MOMENTUM_SCOPE = "optimizer/momentum";
  public static final String EMA_SCOPE = "ema";

  private final ResourceVariables variables = new ResourceVariables();
  private final ResourceVariables.Variable<TInt64> globalStep;
  private final ResourceParameters parameters;
  private final Map<String, ResourceVariables.Variable<TFloat32>> momentum = new LinkedHashMap<>();
  private final Map<String, ResourceVariables.Variable<TFloat32>> ema = new LinkedHashMap<>();

  /**
   * @param specs every parameter of the model, in forward order
   * @param frozen parameters without a momentum slot (not updated)
   * @param withEma whether to create EMA shadows
   * @param seed parameters draw their initial values from {@code [seed, 0x1234]}, as
   *     {@code VariableParameters} does
   */
  public StepVariables(Ops tf, List<ParameterSpec> specs, Predicate<ParameterSpec> frozen,
      boolean withEma, long seed) {
    NameScopes scopes = new NameScopes(tf);
    Ops init = tf.withSubScope("state_init");
    globalStep = variables.create(scopes.named(GLOBAL_STEP), GLOBAL_STEP, Shape.scalar(),
        TInt64.class, init.constant(0L), false);
    for (ParameterSpec p : specs) {
      if (!frozen.test(p)) {
        String name = MOMENTUM_SCOPE + "/" + p.tfName();
        momentum.put(p.haikuKey(), variables.create(scopes.named(name), name,
            Shape.of(p.shape()), TFloat32.class,
            init.zeros(init.constant(p.shape()), TFloat32.class), false));
      }
    }
    if (withEma) {
      for (ParameterSpec p : specs) {
        String name = EMA_SCOPE + "/" + p.tfName();
        // Zeros until syncEma() copies the parameters (after init or loading).
        ema.put(p.haikuKey(), variables.create(scopes.named(name), name, Shape.of(p.shape()),
            TFloat32.class, null, false));
      }
    }
    parameters = new ResourceParameters(variables,
        init.constant(new long[] {seed, 0x1234L}));
  }

  /** The forward graph's parameter source; parameters exist once the forward graph is built. */
  public ResourceParameters parameters() {
    return parameters;
  }

  public ResourceVariables.Variable<TInt64> globalStep() {
    return globalStep;
  }

  /** Momentum slots by Haiku key (trainable parameters only). */
  public Map<String, ResourceVariables.Variable<TFloat32>> momentum() {
    return Collections.unmodifiableMap(momentum);
  }

  /** EMA shadows by Haiku key (empty without EMA). */
  public Map<String, ResourceVariables.Variable<TFloat32>> ema() {
    return Collections.unmodifiableMap(ema);
  }

  public ResourceVariables all() {
    return variables;
  }

  /** Initial parameters, zero momentum, step 0, zero EMA (run {@link #syncEma} afterwards). */
  public Op initializer(Ops tf) {
    return variables.initializer(tf);
  }

  /** Sets every EMA shadow to its parameter's current value. */
  public Op syncEma(Ops tf) {
    List<Op> assigns = new ArrayList<>();
    for (ResourceParameters.Entry e : parameters.entries()) {
      ResourceVariables.Variable<TFloat32> v = ema.get(e.spec().haikuKey());
      if (v != null) {
        assigns.add(v.assign(tf, e.variable().read(tf)));
      }
    }
    return tf.withControlDependencies(assigns).noOp();
  }

  /** The checkpoint saver of every variable; build it after the last variable. */
  public ResourceSaver saver(Graph graph) {
    return ResourceSaver.build(graph, variables);
  }
}
