package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.Precision;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.types.TFloat32;

/**
 * Where an inference call's time goes (section {@code infer-profile}, not in the default set):
 * the {@code infer} section's float32 (weights as variables) and bf16 frozen exports at the test
 * size, batches 1 and 8, run with {@code RunOptions.FULL_TRACE}; kernel time per op type and per kind of
 * work (convolutions and matmuls, casts, reductions, element-wise), per call.
 */
final class InferProfile {
  private static final int[] BATCHES = {1, 8};

  private InferProfile() {}

  static ObjectNode run(BenchSections.Settings s) throws Exception {
    NFNetConfig c = s.config();
    int res = c.testImsize();
    ObjectNode r = BenchSections.JSON.createObjectNode();
    StringBuilder summary = new StringBuilder();
    int calls = Math.max(1, s.repeats());
    InferenceBench.Mode[] modes = {
        new InferenceBench.Mode(Precision.FLOAT32, InferenceBench.Weights.VARIABLES),
        new InferenceBench.Mode(Precision.BFLOAT16, InferenceBench.Weights.FROZEN_EXPORT)};
    for (int batch : BATCHES) {
      profileBatch(s, c, res, batch, modes, calls, r, summary);
    }
    r.put("summary", summary.toString().stripTrailing());
    return r;
  }

  private static void profileBatch(BenchSections.Settings s, NFNetConfig c, int res, int batch,
      InferenceBench.Mode[] modes, int calls, ObjectNode r, StringBuilder summary) throws Exception {
    try (TFloat32 input = InferenceBench.input(batch, res)) {
      for (InferenceBench.Mode mode : modes) {
        try (NFNetModel m = mode.load(s, c)) {
          Signature sig = m.function(NFNetExporter.LOGITS_FROM_NORMALIZED).signature();
          String in = sig.getInputs().get("normalized").name;
          String out = sig.getOutputs().get("logits").name;
          Session session = m.session();
          for (int i = 0; i < s.warmup(); i++) {
            try (Result x = session.runner().feed(in, input).fetch(out).run()) {
              // warm-up
            }
          }
          KernelTally tally = new KernelTally((name, type) -> kind(type));
          for (int i = 0; i < calls; i++) {
            try (Result x = session.runner().feed(in, input).fetch(out).setOptions(KernelTally.TRACE)
                .runAndFetchMetadata()) {
              tally.add(x.getMetadata().orElseThrow());
            }
          }
          tally.report(r, summary, mode.key() + "_b" + batch, "call", "kind",
              String.format(Locale.ROOT, "%s %s inference @%dpx batch %d", c.name(), mode.key(),
                  res, batch), calls);
        }
      }
    }
  }

  /** Kind of work of an op type, oneDNN's rewritten names ({@code _MklNative...}) included. */
  static String kind(String type) {
    String t = type.replace("_MklNative", "").replace("_Mkl", "").replace("_Fused", "");
    if (t.contains("Conv2D") || t.contains("MatMul")) {
      return "convolution/matmul";
    } else if (t.equals("Cast")) {
      return "cast";
    } else if (t.equals("Mean") || t.equals("Sum") || t.contains("Pool")) {
      return "reduction/pool";
    } else if (t.equals("Reshape") || t.equals("Const") || t.equals("Identity")
        || t.equals("Shape") || t.equals("ConcatV2") || t.equals("Slice") || t.equals("_Arg")
        || t.equals("_Retval") || t.equals("NoOp") || t.equals("VarHandleOp")
        || t.equals("ReadVariableOp") || t.equals("_Recv") || t.equals("_Send")) {
      return "bookkeeping";
    }
    return "element-wise";
  }
}
