package org.nfnet.zoo.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.VarHandleOp;
import org.tensorflow.types.family.TType;

/**
 * The resource variables of one graph: {@code VarHandleOp} (the variable, living on its device),
 * {@code AssignVariableOp} (its initializer) and {@code ReadVariableOp} (a value snapshot).
 *
 * <p>Why resource variables: XLA compiles reads, {@code AssignVariableOp} and the
 * {@code ResourceApply*} updates into its clusters (a ref-typed {@code VariableV2} and its
 * {@code Assign} never are), and TF2 Python loads them as {@code tf.Variable}s. Each handle's
 * {@code shared_name} is its op name, as TF Python writes it, so a checkpoint key, the op name and
 * the variable's identity in a loaded SavedModel are the same string.
 *
 * <p>TF Java's own saver ({@code Session.save}, the SavedModel exporter) collects only
 * {@code VariableV2}: checkpoint resource variables with {@link ResourceSaver}. Nothing here is
 * registered as a TF Java auto-initializer, so a restored variable is never silently reset.
 */
public final class ResourceVariables {

  /**
   * One variable.
   *
   * @param name op name of the handle (= {@code shared_name} = checkpoint key)
   * @param handle the {@code VarHandleOp} output (dtype resource)
   * @param snapshot a {@code ReadVariableOp} created with the variable (its SavedModel snapshot)
   * @param initializer the {@code AssignVariableOp} of the initial value (zeros if none was
   *     given: a SavedModel's {@code VariableDef} needs one)
   * @param trainable whether it is a model parameter (listed as trainable in a SavedModel)
   */
  public record Variable<T extends TType>(String name, Class<T> type, Shape shape,
      Operand<? extends TType> handle, Operand<T> snapshot, Op initializer, boolean trainable) {

    /** A new read of the current value (one per consumer that must see a specific point in time). */
    public Operand<T> read(Ops tf) {
      return tf.readVariableOp(handle, type);
    }

    public Op assign(Ops tf, Operand<T> value) {
      return tf.assignVariableOp(handle, value);
    }
  }

  private final Map<String, Variable<?>> variables = new LinkedHashMap<>();

  /**
   * Creates variable {@code fullName} (e.g. {@code optimizer/momentum/NFNet/stem/conv0/w}).
   *
   * @param named ops whose next op gets the name {@code fullName} (see {@link NameScopes#named})
   * @param initialValue built by the caller in its own scope, or null for zeros (a variable that
   *     is restored or assigned before use)
   */
  public <T extends TType> Variable<T> create(Ops named, String fullName, Shape shape,
      Class<T> type, Operand<T> initialValue, boolean trainable) {
    if (variables.containsKey(fullName)) {
      throw new IllegalStateException("resource variable " + fullName + " created twice");
    }
    VarHandleOp h = named.varHandleOp(type, shape, VarHandleOp.sharedName(fullName));
    if (!h.op().name().equals(fullName)) {
      throw new IllegalStateException("resource variable " + fullName + " was named "
          + h.op().name() + " (name taken, or created under another scope)");
    }
    String leaf = fullName.substring(fullName.lastIndexOf('/') + 1);
    Ops scope = named.withName(leaf + "_snapshot");
    Operand<T> snapshot = scope.readVariableOp(h, type);
    Operand<T> value = initialValue != null ? initialValue
        : named.withName(leaf + "_zeros").zeros(named.constant(shape.asArray()), type);
    Op init = named.withName(leaf + "_init").assignVariableOp(h, value);
    Variable<T> v = new Variable<>(fullName, type, shape, h, snapshot, init, trainable);
    variables.put(fullName, v);
    return v;
  }

  /** All variables in creation order. */
  public List<Variable<?>> all() {
    return Collections.unmodifiableList(new ArrayList<>(variables.values()));
  }

  public Variable<?> get(String name) {
    Variable<?> v = variables.get(name);
    if (v == null) {
      throw new IllegalArgumentException("no resource variable " + name);
    }
    return v;
  }

  /** One op running the initializer of every variable. */
  public Op initializer(Ops named) {
    List<Op> inits = new ArrayList<>();
    variables.values().forEach(v -> inits.add(v.initializer()));
    return named.withControlDependencies(inits).noOp();
  }
}
