package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.tensorflow.GraphOperation;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TUint8;

/** Weights as graph constants ({@code nfnet convert --frozen}) compute what the variable export does. */
class FrozenExportTest {
  @TempDir
  Path tmp;

  @Test
  void frozenExportHasNoVariablesAndTheSameLogits() throws Exception {
    NFNetConfig c = TestModels.t0();
    Path vars = tmp.resolve("vars");
    Path frozen = tmp.resolve("frozen");
    new NFNetExporter(c).parameters(TestModels.randomValues(31)).export(vars);
    NFNetExporter.Result r = new NFNetExporter(c).parameters(TestModels.randomValues(31))
        .frozen(true).export(frozen);
    assertTrue(r.frozen());
    // T0 has 289,872 parameters (DeepMind's count, fixtures/nfnet_t0/README.md); folding stores each
    // WSConv2D's gain-scaled kernel instead of kernel + gain, so one value per gain disappears.
    long gains = NFNetStructure.parameters(c).stream().filter(p -> p.name().equals("gain"))
        .mapToLong(p -> p.size()).sum();
    assertEquals(289_872L, r.parameterCount());
    assertEquals(289_872L - gains, r.storedValues());

    byte[] pixels = TestModels.randomPixels(5, 2 * 80 * 61 * 3);
    float[][] a;
    float[][] b;
    try (NFNetModel m = NFNetModel.load(vars, NFNetModel.Options.defaults().withFreeze(false));
        TUint8 t = TUint8.tensorOf(Shape.of(2, 80, 61, 3), DataBuffers.of(pixels, true, false))) {
      a = m.predictUint8(t).logits();
    }
    try (NFNetModel m = NFNetModel.load(frozen);
        TUint8 t = TUint8.tensorOf(Shape.of(2, 80, 61, 3), DataBuffers.of(pixels, true, false))) {
      int variables = 0;
      int constants = 0;
      for (Iterator<GraphOperation> it = m.graph().operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        variables += op.type().startsWith("Variable") || op.type().equals("VarHandleOp") ? 1 : 0;
        constants += op.type().equals("Const") && op.name().endsWith("/w_hat") ? 1 : 0;
      }
      assertEquals(0, variables, "a frozen export has no variables");
      assertEquals(NFNetStructure.parameters(c).stream().filter(p -> p.name().equals("w")
          && !p.module().endsWith("linear") && !p.module().endsWith("linear_1")).count(), constants,
          "one constant folded kernel per WSConv2D");
      b = m.predictUint8(t).logits();
    }
    float scale = 0;
    float diff = 0;
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[i].length; j++) {
        scale = Math.max(scale, Math.abs(a[i][j]));
        diff = Math.max(diff, Math.abs(a[i][j] - b[i][j]));
      }
    }
    System.out.printf("frozen vs variables: max|diff| %.3g of max|logit| %.3g%n", diff, scale);
    assertTrue(scale > 0.1f, "logits should be non-trivial, max " + scale);
    // Same kernels and ops; only oneDNN's constant-filter path may reorder sums.
    assertTrue(diff <= 1e-5f * scale, "max diff " + diff + " vs max logit " + scale);
    assertTrue(Files.readString(frozen.resolve("model_card.json")).contains("frozen"));
    assertFalse(Files.exists(frozen.resolve("variables/variables.data-00000-of-00001"))
        && Files.size(frozen.resolve("variables/variables.data-00000-of-00001")) > 1024,
        "no weights in the checkpoint");
  }

  @Test
  void refusesModelsWhoseGraphDefWouldBeTooLarge() {
    var f6 = FoldedKernels.foldedSpecs(NFNetStructure.parameters(NFNetConfig.variant("F6")));
    var e = assertThrows(IllegalArgumentException.class,
        () -> new FrozenWeights(f6, s -> null, true, Set.of(), null));
    assertTrue(e.getMessage().contains("1.75 GB"), e.getMessage());
    var f5 = FoldedKernels.foldedSpecs(NFNetStructure.parameters(NFNetConfig.variant("F5")));
    assertEquals(377_214_144L, new FrozenWeights(f5, s -> null, true, Set.of(), null).storedValues()
        + f5GainCount(), "F5 is accepted");
    // bf16 stores F6's convolution parameters in two bytes each: its GraphDef fits.
    long f6Values = new FrozenWeights(f6, s -> null, true, FoldedKernels.bf16Parameters(f6), null)
        .storedValues();
    assertEquals(438_359_116L, f6Values + NFNetStructure.parameters(NFNetConfig.variant("F6"))
        .stream().filter(p -> p.name().equals("gain")).mapToLong(p -> p.size()).sum(),
        "F6 in bf16 is accepted");
  }

  /** Folding drops one gain value per output channel of every WSConv2D. */
  private static long f5GainCount() {
    return NFNetStructure.parameters(NFNetConfig.variant("F5")).stream()
        .filter(p -> p.name().equals("gain")).mapToLong(p -> p.size()).sum();
  }
}
