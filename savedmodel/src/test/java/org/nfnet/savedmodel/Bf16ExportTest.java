package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.Precision;
import org.tensorflow.GraphOperation;
import org.tensorflow.Result;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.ndarray.buffer.FloatDataBuffer;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TUint8;

/**
 * A bf16 variables export stores its convolution kernels and biases in bfloat16: the values are
 * float32's rounded to nearest even (the IEEE rule TF's {@code Cast} follows, worked here by
 * hand), everything else stays float32, and the logits are those of the bf16 frozen export, whose
 * float32 constants TF casts itself.
 */
class Bf16ExportTest {
  private static final int SEED = 7;

  @TempDir
  Path tmp;

  @Test
  void convolutionParametersAreStoredRoundedToNearestEven() throws Exception {
    NFNetConfig c = TestModels.t0();
    Path fp32 = export(c, Precision.FLOAT32, false, "fp32");
    Path bf16 = export(c, Precision.BFLOAT16, false, "bf16");
    List<ParameterSpec> specs = FoldedKernels.foldedSpecs(NFNetStructure.parameters(c));
    Set<String> stored16 = FoldedKernels.bf16Parameters(specs);
    long values16 = 0;
    long roundedUp = 0;
    try (NFNetModel a = load(fp32); NFNetModel b = load(bf16)) {
      for (ParameterSpec p : specs) {
        float[] reference = stored(a, p).values();
        Stored s = stored(b, p);
        float[] stored = s.values();
        boolean half = stored16.contains(p.haikuKey());
        assertEquals(half ? DataType.DT_BFLOAT16 : DataType.DT_FLOAT, s.type(), p.haikuKey());
        for (int i = 0; i < stored.length; i++) {
          int expected = half ? roundToNearestEven(reference[i]) : Float.floatToRawIntBits(reference[i]);
          assertEquals(expected, Float.floatToRawIntBits(stored[i]), p.haikuKey() + "[" + i + "]");
          roundedUp += half && expected != (Float.floatToRawIntBits(reference[i]) & 0xFFFF0000) ? 1 : 0;
        }
        values16 += half ? stored.length : 0;
      }
    }
    // Every w_hat and its bias: T0's convolutions hold all but the squeeze-excite and classifier
    // weights. About half the values round up, which truncation would get wrong.
    assertEquals(2 * specs.stream().filter(p -> p.name().equals("w_hat")).count(), stored16.size());
    assertTrue(roundedUp > values16 / 4, roundedUp + " of " + values16 + " rounded up");
    String card = Files.readString(bf16.resolve("model_card.json"));
    assertTrue(card.contains("in bfloat16"), card);
    long saved = Files.size(fp32.resolve("variables/variables.data-00000-of-00001"))
        - Files.size(bf16.resolve("variables/variables.data-00000-of-00001"));
    assertEquals(2 * values16, saved, "two bytes fewer per bfloat16 value");
  }

  @Test
  void logitsAreTheFrozenBf16ExportsAndNoKernelIsCastPerCall() throws Exception {
    NFNetConfig c = TestModels.t0();
    Path vars = export(c, Precision.BFLOAT16, false, "vars");
    Path frozen = export(c, Precision.BFLOAT16, true, "frozen");
    Path fp32 = export(c, Precision.FLOAT32, false, "fp32");
    byte[] pixels = TestModels.randomPixels(3, 2 * 80 * 64 * 3);
    float[][] bf16Logits;
    try (NFNetModel m = load(vars);
        TUint8 t = TUint8.tensorOf(Shape.of(2, 80, 64, 3), DataBuffers.of(pixels, true, false))) {
      bf16Logits = m.predictUint8(t).logits();
      RunOptions trace = RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
      try (Result r = m.session().runner().feed("images", t).fetch("outputs/logits")
          .setOptions(trace).runAndFetchMetadata()) {
        int casts = 0;
        for (DeviceStepStats d : r.getMetadata().orElseThrow().getStepStats().getDevStatsList()) {
          for (NodeExecStats n : d.getNodeStatsList()) {
            assertFalse(n.getNodeName().endsWith("_float32"), "per-call cast " + n.getNodeName());
            casts += n.getTimelineLabel().contains("Cast") ? 1 : 0;
          }
        }
        assertTrue(casts > 0, "the trace should list the activations' casts");
      }
      // Nor in the encoded signature's network copy: nothing reads a stored kernel's float32 cast.
      int stored = 0;
      for (Iterator<GraphOperation> it = m.graph().operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        if (op.name().endsWith("_float32")) {
          stored++;
          assertEquals(0, op.numConsumers(), op.name() + " is read");
        }
      }
      assertTrue(stored > 0, "the export should have bfloat16 parameters");
    }
    float[][] frozenLogits;
    float[][] frozenAtLoad;
    float[][] fp32Logits;
    try (NFNetModel m = NFNetModel.load(frozen);
        TUint8 t = TUint8.tensorOf(Shape.of(2, 80, 64, 3), DataBuffers.of(pixels, true, false))) {
      frozenLogits = m.predictUint8(t).logits();
      int kernels = 0;
      for (Iterator<GraphOperation> it = m.graph().operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        if (op.type().equals("Const") && op.name().endsWith("/w_hat")) {
          kernels++;
          assertEquals(DataType.DT_BFLOAT16, op.output(0).dataType(), op.name());
        }
      }
      assertTrue(kernels > 0, "the frozen export should hold its kernels as constants");
    }
    // Freezing at load turns the bfloat16 variables into bfloat16 constants.
    try (NFNetModel m = NFNetModel.load(vars, NFNetModel.Options.defaults().withFreeze(true));
        TUint8 t = TUint8.tensorOf(Shape.of(2, 80, 64, 3), DataBuffers.of(pixels, true, false))) {
      frozenAtLoad = m.predictUint8(t).logits();
    }
    try (NFNetModel m = load(fp32);
        TUint8 t = TUint8.tensorOf(Shape.of(2, 80, 64, 3), DataBuffers.of(pixels, true, false))) {
      fp32Logits = m.predictUint8(t).logits();
    }
    float scale = 0;
    float frozenDiff = 0;
    float fp32Diff = 0;
    for (int i = 0; i < bf16Logits.length; i++) {
      for (int j = 0; j < bf16Logits[i].length; j++) {
        scale = Math.max(scale, Math.abs(fp32Logits[i][j]));
        frozenDiff = Math.max(frozenDiff, Math.abs(bf16Logits[i][j] - frozenLogits[i][j]));
        frozenDiff = Math.max(frozenDiff, Math.abs(bf16Logits[i][j] - frozenAtLoad[i][j]));
        fp32Diff = Math.max(fp32Diff, Math.abs(bf16Logits[i][j] - fp32Logits[i][j]));
      }
    }
    System.out.printf("bf16 variables vs bf16 frozen (export or at load): %.3g, vs float32: %.3g of max|logit| %.3g%n",
        frozenDiff / scale, fp32Diff / scale, scale);
    assertTrue(scale > 0.1f, "logits should be non-trivial, max " + scale);
    // Same bf16 operands; only oneDNN's constant-filter path may sum in another order. A kernel
    // rounded differently (truncated, or rounded twice) moves the logits by ~1e-3.
    assertTrue(frozenDiff <= 1e-5f * scale, "bf16 variables vs frozen: " + frozenDiff);
    assertTrue(fp32Diff > 1e-4f * scale, "bf16 should differ from float32: " + fp32Diff);
  }

  private Path export(NFNetConfig c, Precision p, boolean frozen, String name) throws Exception {
    Path dir = tmp.resolve(name);
    new NFNetExporter(c).parameters(TestModels.randomValues(SEED)).precision(p).frozen(frozen)
        .export(dir);
    return dir;
  }

  private static NFNetModel load(Path dir) throws Exception {
    return NFNetModel.load(dir, NFNetModel.Options.defaults().withFreeze(false));
  }

  /** A parameter's dtype and values (a bfloat16 value converts to float exactly). */
  private record Stored(DataType type, float[] values) {}

  private static Stored stored(NFNetModel m, ParameterSpec p) {
    try (Result r = m.session().runner().fetch(p.tfName() + "_read").run()) {
      Tensor t = r.get(0);
      FloatDataBuffer out = DataBuffers.ofFloats(p.size());
      if (t instanceof TBfloat16 h) {
        h.copyTo(out);
      } else {
        ((TFloat32) t).copyTo(out);
      }
      float[] v = new float[(int) p.size()];
      out.read(v);
      return new Stored(t.dataType(), v);
    }
  }

  /** float32 -> bfloat16 bits (as the upper half of a float32), rounding to nearest, ties to even. */
  private static int roundToNearestEven(float f) {
    int bits = Float.floatToRawIntBits(f);
    int lsb = (bits >>> 16) & 1;
    return (bits + 0x7FFF + lsb) & 0xFFFF0000;
  }
}
