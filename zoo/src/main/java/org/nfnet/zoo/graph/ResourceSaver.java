package org.nfnet.zoo.graph;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Session;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.train.Restore;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.types.TString;
import org.tensorflow.types.family.TType;

/**
 * A checkpoint saver for every variable of a graph, resource variables included: {@code SaveV2}
 * of each variable's value under its name, {@code RestoreV2} + {@code AssignVariableOp}
 * ({@code Assign} for a {@code VariableV2}) to read it back.
 *
 * <p>Why our own: TF Java 1.1's {@code Graph.saverDef()} builds its saver from the
 * {@code VariableV2} ops only ("TODO handle resource variables, too" in {@code
 * Graph.addVariableSaver}), so {@code Session.save} silently leaves resource variables out and
 * {@code Session.restore} of such a checkpoint later fails with "Key ... not found".
 *
 * <p>The ops carry the names TF Java looks for ({@code save/filename}, {@code
 * save/control_dependency}, {@code save/restore_all}): once built, {@code Session.save}/{@code
 * restore} and {@code SavedModelBundle.exporter} use this saver instead of creating theirs, and
 * {@link #saverDef()} is the {@code SaverDef} a SavedModel records. Keys are variable names, the
 * keys TF Java's saver writes for {@code VariableV2}, so checkpoints written for ref variables
 * restore into resource variables of the same names (the migration path).
 */
public final class ResourceSaver {
  public static final String SCOPE = "save";

  private final Placeholder<TString> filename;
  private final Op save;
  private final Op restore;
  private final List<String> keys;

  private ResourceSaver(Placeholder<TString> filename, Op save, Op restore, List<String> keys) {
    this.filename = filename;
    this.save = save;
    this.restore = restore;
    this.keys = keys;
  }

  /**
   * Builds the saver of {@code variables} plus every {@code VariableV2} already in the graph. Build
   * it after the last variable is created.
   */
  public static ResourceSaver build(Graph graph, ResourceVariables variables) {
    if (graph.operation(SCOPE + "/restore_all") != null) {
      throw new IllegalStateException("the graph already has a saver (" + SCOPE + "/restore_all)");
    }
    Map<String, Output<?>> refVars = new LinkedHashMap<>();
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      GraphOperation op = it.next();
      if (op.type().equals("VariableV2")) {
        refVars.put(op.name(), op.output(0));
      }
    }
    Ops tf = Ops.create(graph).withSubScope(SCOPE);
    List<String> keys = new ArrayList<>();
    List<Operand<?>> values = new ArrayList<>();
    List<Class<? extends TType>> types = new ArrayList<>();
    for (ResourceVariables.Variable<?> v : variables.all()) {
      keys.add(v.name());
      values.add(v.read(tf));
      types.add(v.type());
    }
    for (Map.Entry<String, Output<?>> e : refVars.entrySet()) {
      keys.add(e.getKey());
      values.add(tf.identity(e.getValue()));
      types.add(e.getValue().type());
    }
    Placeholder<TString> filename = tf.withName("filename").placeholder(TString.class);
    if (keys.isEmpty()) {
      throw new IllegalStateException("the graph has no variables to save");
    }
    Operand<TString> names = tf.constant(StdArrays.ndCopyOf(keys.toArray(new String[0])));
    Operand<TString> slices = tf.zerosLike(names);
    Op saveAll = tf.train.save(filename, names, slices, values);
    Op save = tf.withControlDependencies(List.of(saveAll)).withName("control_dependency")
        .identity(filename);
    Restore r = tf.train.restore(filename, names, slices, types);
    List<Op> assigns = new ArrayList<>();
    int nResource = variables.all().size();
    for (int i = 0; i < keys.size(); i++) {
      Operand<?> value = r.tensors().get(i);
      if (i < nResource) {
        assigns.add(tf.assignVariableOp(variables.all().get(i).handle(), value));
      } else {
        assigns.add(assignRef(tf, refVars.get(keys.get(i)), value));
      }
    }
    Op restore = tf.withControlDependencies(assigns).withName("restore_all").noOp();
    if (!restore.op().name().equals(SCOPE + "/restore_all")) {
      throw new IllegalStateException("saver ops were named " + restore.op().name()
          + "; the scope " + SCOPE + " is already taken");
    }
    return new ResourceSaver(filename, save, restore, List.copyOf(keys));
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Op assignRef(Ops tf, Output<?> ref, Operand<?> value) {
    return tf.assign((Operand) ref, (Operand) value);
  }

  /** Checkpoint keys, i.e. the names of the saved variables, in save order. */
  public List<String> keys() {
    return keys;
  }

  /** Writes {@code prefix.index} and {@code prefix.data-*} (the caller picks a temporary prefix). */
  public void save(Session session, String prefix) {
    try (TString p = TString.scalarOf(prefix)) {
      session.runner().feed(filename, p).addTarget(save).run();
    }
  }

  /** Assigns every variable its value in checkpoint {@code prefix}; a missing key is an error. */
  public void restore(Session session, String prefix) {
    try (TString p = TString.scalarOf(prefix)) {
      session.runner().feed(filename, p).addTarget(restore).run();
    }
  }

  /** Names of the ops, as a SavedModel's MetaGraphDef records them. */
  public SaverDef saverDef() {
    return SaverDef.newBuilder().setFilenameTensorName(filename.op().name() + ":0")
        .setSaveTensorName(save.op().name()).setRestoreOpName(restore.op().name())
        .setVersion(SaverDef.CheckpointFormatVersion.V2).build();
  }
}
