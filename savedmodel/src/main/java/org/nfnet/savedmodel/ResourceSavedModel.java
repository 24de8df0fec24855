package org.nfnet.savedmodel;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.nfnet.zoo.graph.ResourceSaver;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.op.Op;
import org.tensorflow.proto.CollectionDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.proto.VariableDef;

/**
 * Writes a SavedModel (TF1 layout: {@code saved_model.pb} + {@code variables/}) whose variables
 * are resource variables, which TF Java's {@code SavedModelBundle.exporter} would leave out (its
 * saver takes {@code VariableV2} only).
 *
 * <p>What TF needs to load it: the {@code variables/variables} checkpoint, written by the graph's
 * {@link ResourceSaver}; the {@code SaverDef} naming that saver's filename tensor and restore op
 * (TF's C++ loader, hence TF Java, TF Serving and Python, runs it on load); and the
 * {@code variables}/{@code trainable_variables} collections of {@code VariableDef}s, from which
 * TF2 Python's {@code tf.saved_model.load} lifts the handles into {@code tf.Variable}s of the
 * loaded object. Reading the variables back into a live graph of the same variables is
 * {@link ResourceSaver#restore} with {@link #variablesPrefix}.
 */
public final class ResourceSavedModel {
  public static final String VARIABLES_COLLECTION = "variables";
  public static final String TRAINABLE_COLLECTION = "trainable_variables";

  private ResourceSavedModel() {}

  /** The checkpoint prefix of a SavedModel's variables ({@code DIR/variables/variables}). */
  public static Path variablesPrefix(Path savedModelDir) {
    return savedModelDir.resolve("variables").resolve("variables");
  }

  /**
   * Writes the SavedModel of {@code session}'s graph to {@code dir} (which must not exist): into a
   * temporary sibling first, renamed into place when complete.
   *
   * @param signatures signature key -> definition (see {@link #signature})
   * @param initOp op run on load after the restore (e.g. iterator set-up), or null
   */
  public static void write(Session session, ResourceVariables variables, ResourceSaver saver,
      Map<String, SignatureDef> signatures, Op initOp, List<String> tags, Path dir)
      throws IOException {
    ExportDirectory export = ExportDirectory.create(dir, false);
    Path tmp = export.temp();
    try {
      Files.createDirectories(tmp.resolve("variables"));
      saver.save(session, variablesPrefix(tmp).toString());
      MetaGraphDef.Builder mg = MetaGraphDef.newBuilder()
          .setGraphDef(session.graph().toGraphDef())
          .setSaverDef(saver.saverDef())
          .putAllSignatureDef(signatures);
      mg.getMetaInfoDefBuilder().addAllTags(tags);
      CollectionDef.Builder all = CollectionDef.newBuilder();
      CollectionDef.Builder trainable = CollectionDef.newBuilder();
      for (ResourceVariables.Variable<?> v : variables.all()) {
        VariableDef.Builder d = VariableDef.newBuilder().setVariableName(v.name() + ":0")
            .setSnapshotName(v.snapshot().asOutput().op().name() + ":0")
            .setInitializerName(v.initializer().op().name())
            .setIsResource(true).setTrainable(v.trainable());
        all.getBytesListBuilder().addValue(d.build().toByteString());
        if (v.trainable()) {
          trainable.getBytesListBuilder().addValue(d.build().toByteString());
        }
      }
      mg.putCollectionDef(VARIABLES_COLLECTION, all.build());
      mg.putCollectionDef(TRAINABLE_COLLECTION, trainable.build());
      if (initOp != null) {
        mg.putSignatureDef("__saved_model_init_op", SignatureDef.newBuilder()
            .putOutputs("__saved_model_init_op", TensorInfo.newBuilder()
                .setName(initOp.op().name()).build()).build());
      }
      try (OutputStream out = Files.newOutputStream(tmp.resolve("saved_model.pb"))) {
        SavedModel.newBuilder().setSavedModelSchemaVersion(1).addMetaGraphs(mg).build()
            .writeTo(out);
      }
      export.commit();
    } finally {
      export.abort();
    }
  }

  /** A signature of named graph tensors ({@code method}: e.g. {@code tensorflow/serving/predict}). */
  public static SignatureDef signature(String method, Map<String, Operand<?>> inputs,
      Map<String, Operand<?>> outputs) {
    SignatureDef.Builder b = SignatureDef.newBuilder().setMethodName(method);
    inputs.forEach((k, t) -> b.putInputs(k, info(t)));
    outputs.forEach((k, t) -> b.putOutputs(k, info(t)));
    return b.build();
  }

  /** The definition of a TF Java {@link Signature} (e.g. from {@link NFNetExporter#signatures}). */
  public static SignatureDef signature(Signature sig) {
    SignatureDef.Builder b = SignatureDef.newBuilder().setMethodName(sig.methodName());
    sig.getInputs().forEach((k, d) -> b.putInputs(k, info(d)));
    sig.getOutputs().forEach((k, d) -> b.putOutputs(k, info(d)));
    return b.build();
  }

  private static TensorInfo info(Signature.TensorDescription d) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    if (d.shape.isUnknown()) {
      shape.setUnknownRank(true);
    } else {
      for (long n : d.shape.asArray()) {
        shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(n));
      }
    }
    return TensorInfo.newBuilder().setName(d.name).setDtype(d.dataType).setTensorShape(shape)
        .build();
  }

  private static TensorInfo info(Operand<?> t) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    if (t.shape().isUnknown()) {
      shape.setUnknownRank(true);
    } else {
      for (long d : t.shape().asArray()) {
        shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
      }
    }
    return TensorInfo.newBuilder().setName(t.asOutput().op().name() + ":" + t.asOutput().index())
        .setDtype(t.asOutput().dataType()).setTensorShape(shape).build();
  }
}
