package org.nfnet.zoo.graph;

import java.util.List;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * Parameters held in resource variables named after their Haiku identity (the names
 * {@link VariableParameters} gives its {@code VariableV2}s, so checkpoints carry over).
 *
 * <p>Each parameter gets its Haiku-style initializer at creation, drawn in-graph from stateless
 * random ops keyed by {@code seed} (the salts follow {@link VariableParameters#initializer}, so
 * both draw the same initial values), and one {@code ReadVariableOp} that the forward graph
 * consumes: gradients are taken with respect to that read.
 */
public final class ResourceParameters implements ParameterSource {
  /** One parameter: its spec, variable and the read the forward graph uses. */
  public record Entry(ParameterSpec spec, ResourceVariables.Variable<TFloat32> variable,
      Operand<TFloat32> read) {}

  private final ResourceVariables variables;
  private final Operand<TInt64> seed;
  private final ParameterTable<Entry> entries = new ParameterTable<>();

  /**
   * @param variables where the parameter variables are registered
   * @param seed int64 [2] initialisation seed, or null for parameters without initializer
   *     (restored from a checkpoint)
   */
  public ResourceParameters(ResourceVariables variables, Operand<TInt64> seed) {
    this.variables = variables;
    this.seed = seed;
  }

  @Override
  public Operand<TFloat32> get(Ops module, ParameterSpec spec, ParameterInit init) {
    entries.checkNew(spec);
    Operand<TFloat32> initial = seed == null ? null : Initializers.value(module, spec, init,
        StochasticDepth.subSeed(module, seed, entries.size() + 1L));
    ResourceVariables.Variable<TFloat32> v = variables.create(module.withName(spec.name()),
        spec.tfName(), Shape.of(spec.shape()), TFloat32.class, initial, true);
    Operand<TFloat32> read = module.withName(spec.name() + "_read").readVariableOp(v.handle(),
        TFloat32.class);
    entries.add(spec, new Entry(spec, v, read));
    return read;
  }

  /** All parameters in creation (forward) order. */
  public List<Entry> entries() {
    return entries.all();
  }

  public Entry entry(String haikuKey) {
    return entries.get(haikuKey);
  }
}
