package org.nfnet.converters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.converters.validation.ValidationReport;
import org.nfnet.converters.validation.VariantDetector;
import org.nfnet.converters.validation.WeightValidator;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.Variants;

class ValidationTest {
  @TempDir
  Path dir;

  static final Path T0_FILE = TestFiles.T0_DIR.resolve("t0_seed5_release.pkl");

  static NFNetConfig t0() {
    return SharedFixtures.t0Config();
  }

  @Test
  void t0FixtureMatchesItsOwnVariantIncludingFiniteness() throws IOException {
    try (HaikuParams p = WeightFileReader.read(T0_FILE)) {
      ValidationReport r = WeightValidator.validate(p, t0());
      assertEquals(List.of(), r.errors());
      assertEquals(List.of(), r.warnings());
      assertTrue(r.ok());
      assertEquals(289872L, NFNetStructure.parameterCount(t0()));
    }
  }

  @Test
  void missingParametersListFirstTenAndTheTotal() throws IOException {
    try (HaikuParams p = WeightFileReader.read(T0_FILE)) {
      ValidationReport r = WeightValidator.validate(p, Variants.get("F0"),
          new WeightValidator.Options(false, false));
      int expectedMissing = 0;
      for (ParameterSpec s : NFNetStructure.parameters(Variants.get("F0"))) {
        if (p.get(s.haikuKey()) == null) {
          expectedMissing++;
        }
      }
      String first = r.errors().get(0);
      assertTrue(first.startsWith(expectedMissing + " expected parameter(s) missing, e.g. "), first);
      assertTrue(first.endsWith("... (" + expectedMissing + " in total)"), first);
      String names = first.substring(first.indexOf("e.g. ") + 5);
      assertEquals(11, names.split(", ").length, first); // ten names + "... (N in total)"
      assertTrue(r.errors().stream().anyMatch(e -> e.startsWith(
          "parameter NFNet/~/final_conv/w has shape [1, 1, 128, 256], expected [1, 1, 1536, 3072]")),
          r.errors().toString());
      ValidationReport ok = r;
      WeightFileException ex = assertThrows(WeightFileException.class, () -> ok.throwIfFailed(T0_FILE));
      assertTrue(ex.getMessage().contains("does not match NFNet variant F0"));
    }
  }

  @Test
  void shapeMismatchNamesParameterExpectedAndActual() throws IOException {
    try (HaikuParams p = WeightFileReader.read(T0_FILE)) {
      ValidationReport r = WeightValidator.validate(p, t0().withNumClasses(1000));
      assertEquals(List.of(
          "parameter NFNet/~/linear/w has shape [256, 10], expected [256, 1000]",
          "parameter NFNet/~/linear/b has shape [10], expected [1000]"), r.errors());
    }
  }

  /** T0's parameters plus one unused array, written by the Java pickle writer with real data. */
  private Path t0WithExtra(float extraValue) throws IOException {
    Map<String, Map<String, PickleWriter.Arr>> tree = new LinkedHashMap<>();
    try (HaikuParams p = WeightFileReader.read(T0_FILE)) {
      for (ParamArray a : p.arrays()) {
        tree.computeIfAbsent(a.module(), m -> new LinkedHashMap<>())
            .put(a.name(), PickleWriter.Arr.f32(a.shape(), a.toFloatArray()));
      }
    }
    tree.put("NFNet/~/ema", Map.of("counter", PickleWriter.Arr.f32(new long[] {2}, 1f, extraValue)));
    Path f = dir.resolve("t0_extra.pkl");
    try (PickleWriter w = new PickleWriter(f)) {
      w.haikuTree(tree);
    }
    return f;
  }

  @Test
  void extraEntriesWarnOrFailInStrictMode() throws IOException {
    try (HaikuParams p = WeightFileReader.read(t0WithExtra(2f))) {
      ValidationReport lenient = WeightValidator.validate(p, t0());
      assertTrue(lenient.ok(), lenient.errors().toString());
      assertEquals(List.of("1 unexpected entry not used by variant T0: NFNet/~/ema/counter"),
          lenient.warnings());
      ValidationReport strict = WeightValidator.validate(p, t0(), new WeightValidator.Options(true, true));
      assertEquals(List.of("1 unexpected entry not used by variant T0: NFNet/~/ema/counter"),
          strict.errors());
    }
  }

  @Test
  void nanAndInfAreErrorsNamingTheParameter() throws IOException {
    try (HaikuParams p = WeightFileReader.read(t0WithExtra(Float.NaN))) {
      ValidationReport r = WeightValidator.validate(p, t0());
      assertEquals(List.of("parameter NFNet/~/ema/counter contains 1 NaN and 0 infinite value(s) (first at "
          + "flat index 1)"), r.errors());
    }
    try (HaikuParams p = WeightFileReader.read(t0WithExtra(Float.NEGATIVE_INFINITY))) {
      assertTrue(WeightValidator.validate(p, t0()).errors().get(0).contains("0 NaN and 1 infinite"));
    }
  }

  @Test
  void detectsNamedVariantsAndTheirClassCount() {
    for (String[] c : new String[][] {{"F0", "1000"}, {"F1+", "10"}, {"F3", "1000"}}) {
      NFNetConfig cfg = Variants.get(c[0]).withNumClasses(Integer.parseInt(c[1]));
      Path f = TestFiles.sparseVariantFile(dir.resolve(c[0] + ".pkl"), cfg);
      try (HaikuParams p = WeightFileReader.read(f)) {
        VariantDetector.Detection d = VariantDetector.detect(p);
        assertEquals(c[0], d.variant());
        assertEquals(Integer.parseInt(c[1]), d.numClasses());
        assertEquals(NFNetStructure.parameterCount(cfg), p.totalElements());
        ValidationReport r = WeightValidator.validate(p, d.config(), new WeightValidator.Options(true, false));
        assertTrue(r.ok(), r.errors().toString());
      } catch (IOException e) {
        throw new AssertionError(e);
      }
    }
  }

  @Test
  void paperParameterCountForF0() {
    assertEquals(71_489_284L, NFNetStructure.parameterCount(Variants.get("F0")));
  }

  @Test
  void noMatchNamesTheClosestCandidateAndWhy() throws IOException {
    // F0 without one block's conv_shortcut: closest is F0 with 3 missing
    List<ParameterSpec> specs = new ArrayList<>(NFNetStructure.parameters(Variants.get("F0")));
    specs.removeIf(s -> s.module().equals("NFNet/~/nf_block/~/conv_shortcut"));
    Path f = TestFiles.sparseFile(dir.resolve("almost.pkl"), specs);
    try (HaikuParams p = WeightFileReader.read(f)) {
      WeightFileException e = assertThrows(WeightFileException.class, () -> VariantDetector.detect(p));
      assertTrue(e.getMessage().contains("closest is F0 (3 missing, 0 with another shape, 0 extra)"),
          e.getMessage());
    }
    try (HaikuParams p = WeightFileReader.read(T0_FILE)) {
      WeightFileException e = assertThrows(WeightFileException.class, () -> VariantDetector.detect(p));
      assertTrue(e.getMessage().contains("match no named NFNet variant"), e.getMessage());
    }
  }

  @Test
  void releaseNamedFileWithWrongMd5IsRefusedUnlessVerificationIsOff() throws IOException {
    Path f = Files.copy(TestFiles.resource("tiny_p3.pkl"), dir.resolve("F0_haiku.npz"));
    WeightFileException e = assertThrows(WeightFileException.class, () -> WeightFileReader.read(f));
    assertTrue(e.getMessage().contains("md5 ") && e.getMessage().contains("expected 0a41039da1cb43adf47f1b7d86ddfe0f"),
        e.getMessage());
    try (HaikuParams p = WeightFileReader.read(f, ReadOptions.defaults().withoutChecksum())) {
      assertEquals(9, p.arrayCount());
    }
    assertEquals("b16cca40ac1ecec2bd5e3273866da0c1", ReleaseChecksums.expectedMd5(Path.of("x/F6_haiku.npz")).get());
    assertTrue(ReleaseChecksums.expectedMd5(Path.of("F7_haiku.npz")).isEmpty());
    assertTrue(ReleaseChecksums.expectedMd5(Path.of("my_F0_haiku.npz")).isEmpty());
  }

  @Test
  void md5IsStreamedCorrectly() throws IOException {
    Path f = dir.resolve("abc");
    Files.writeString(f, "abc");
    try (var ch = java.nio.channels.FileChannel.open(f)) {
      assertEquals("900150983cd24fb0d6963f7d28e17f72", ReleaseChecksums.md5(ch));
    }
  }

  @Test
  void inspectorReportsStructureAndVariant() {
    InspectionReport t0 = Inspector.inspect(T0_FILE);
    assertEquals(null, t0.refusal());
    assertEquals(3, t0.protocol());
    assertEquals(131, t0.arrayCount());
    assertEquals(52, t0.moduleCount());
    assertEquals(289872, t0.totalElements());
    assertEquals(null, t0.variant());
    assertEquals(10, t0.numClasses());
    String text = t0.toText();
    assertTrue(text.contains("format:          pickle, protocol 3"), text);
    assertTrue(text.contains("layout:          dill 0.3.x / numpy <= 1.18 release layout"), text);
    assertTrue(text.contains("parameters:      289,872"), text);
    assertTrue(text.contains("top-level type:  haiku._src.data_structures.FlatMapping"), text);
    assertTrue(text.contains("haiku._src.data_structures.FlatMapping x53"), text);
    assertTrue(text.contains("variant:         unknown - the weights match no named NFNet variant"), text);
    assertEquals(8, t0.firstParams().size());

    Path f0 = TestFiles.sparseVariantFile(dir.resolve("f0.pkl"), Variants.get("F0"));
    InspectionReport r = Inspector.inspect(f0);
    assertEquals("F0", r.variant());
    assertEquals(1000, r.numClasses());
    assertTrue(r.toText().contains("parameters:      71,489,284"), r.toText());
    assertTrue(r.toText().contains("variant:         F0 (1000 classes)"), r.toText());
  }
}
