package org.nfnet.converters;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * DeepMind's release layout (dill 0.3.x {@code _get_attr(_import_module(...), '_reconstruct')},
 * numpy <= 1.18 int dtype flags) is read; every other use of dill's two helpers, and any use of the
 * module value they produce, is refused naming the call. Pickles are built opcode by opcode.
 */
class ReleaseLayoutTest {
  private static final String UMATH = "numpy.core._multiarray_umath";

  @TempDir
  Path dir;

  private Path write(String name, HostileFileTest.PickleWriterBody body) throws IOException {
    Path f = dir.resolve(name);
    try (PickleWriter w = new PickleWriter(f)) {
      body.write(w);
    }
    return f;
  }

  private static String refusal(Path file) {
    WeightFileException e = assertThrows(WeightFileException.class, () -> WeightFileReader.read(file).close());
    assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
    // inspect reports the same refusal instead of throwing
    InspectionReport r = Inspector.inspect(file);
    assertTrue(r.refused(), r.toText());
    return e.getMessage();
  }

  private static Map<String, Map<String, PickleWriter.Arr>> twoArrays() {
    Map<String, Map<String, PickleWriter.Arr>> tree = new LinkedHashMap<>();
    Map<String, PickleWriter.Arr> linear = new LinkedHashMap<>();
    linear.put("b", PickleWriter.Arr.f32(new long[] {2}, 0.5f, -2f));
    linear.put("w", PickleWriter.Arr.f32(new long[] {2, 2}, 1f, 2f, 3f, -4f));
    tree.put("NFNet/~/linear", linear);
    return tree;
  }

  @ParameterizedTest
  @ValueSource(strings = {"dill._dill", "dill.dill"})
  void readsTheReleaseLayoutFromEitherDillModuleName(String dillModule) throws IOException {
    Path f = dir.resolve("release.pkl");
    try (PickleWriter w = new PickleWriter(f).releaseLayout().dillModule(dillModule)) {
      w.haikuTree(twoArrays());
    }
    try (HaikuParams p = WeightFileReader.read(f)) {
      assertArrayEquals(new float[] {0.5f, -2f}, p.get("NFNet/~/linear/b").toFloatArray());
      assertArrayEquals(new float[] {1f, 2f, 3f, -4f}, p.get("NFNet/~/linear/w").toFloatArray());
      assertEquals(3, p.protocol());
      assertEquals(1, p.globals().get("dill._dill._get_attr"));
      assertEquals(1, p.globals().get("dill._dill._import_module"));
      assertEquals(2, p.globals().get("numpy.core.multiarray._reconstruct")); // once + one memo recall
      assertTrue(p.layout().startsWith("dill 0.3.x / numpy <= 1.18 release layout"), p.layout());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {UMATH, "numpy._core._multiarray_umath", "numpy.core.multiarray"})
  void acceptsEachNumpyModuleSpelling(String module) throws IOException {
    Path f = write("m.pkl", w -> w.proto(3).global("haiku._src.data_structures", "FlatMapping")
        .op('}').str("m").op('}').str("w")
        .global("dill._dill", "_create_array").op('(').dillGetAttr(module, "_reconstruct")
        .global("numpy", "ndarray").integer(0).op(0x85).op('C', 1, 'b').op(0x87)
        .op('(').integer(1).shape(new long[] {1})
        .global("numpy", "dtype").str("f4").op(0x89, 0x88, 0x87, 'R')
        .op('(').integer(3).str("<").op('N', 'N', 'N').integer(-1).integer(-1).integer(0).op('t', 'b')
        .op(0x89).op('C', 4, 0, 0, 0x80, 0x3f).op('t', 'N', 't', 'R')
        .op('s', 's', 0x85, 'R', '.'));
    try (HaikuParams p = WeightFileReader.read(f)) {
      assertArrayEquals(new float[] {1f}, p.get("m/w").toFloatArray());
    }
  }

  @Test
  void importModuleOfAnyOtherModuleIsRefused() throws IOException {
    for (String dill : new String[] {"dill._dill", "dill.dill"}) {
      Path f = write("os.pkl", w -> w.proto(3).global(dill, "_import_module").str("os").op(0x85, 'R', '.'));
      String m = refusal(f);
      assertTrue(m.contains("refused call dill._dill._import_module(str 'os')"), m);
    }
    Path np = write("np.pkl", w -> w.proto(3).global("dill._dill", "_import_module").str("numpy").op(0x85, 'R', '.'));
    assertTrue(refusal(np).contains("_import_module(str 'numpy')"), refusal(np));
    Path num = write("int.pkl", w -> w.proto(3).global("dill._dill", "_import_module").integer(7).op(0x85, 'R', '.'));
    assertTrue(refusal(num).contains("_import_module(int)"), refusal(num));
  }

  @Test
  void importModuleWithTwoArgumentsIsRefused() throws IOException {
    // dill's real signature is _import_module(name, safe=False); only the one-argument form is data
    Path f = write("two.pkl", w -> w.proto(3).global("dill._dill", "_import_module").str(UMATH)
        .op(0x88, 0x86, 'R', '.'));
    String m = refusal(f);
    assertTrue(m.contains("refused call dill._dill._import_module(str '" + UMATH + "', bool)"), m);
  }

  @Test
  void getAttrOfAnythingButReconstructIsRefused() throws IOException {
    Path f = write("fb.pkl", w -> w.proto(3).dillGetAttr(UMATH, "frombuffer").op('.'));
    String m = refusal(f);
    assertTrue(m.contains("refused call dill._dill._get_attr(module " + UMATH + ", str 'frombuffer')"), m);
  }

  @Test
  void getAttrOnAStringIsRefused() throws IOException {
    Path f = write("eval.pkl", w -> w.proto(3).global("dill._dill", "_get_attr").str("builtins").str("eval")
        .op(0x86, 'R', '.'));
    String m = refusal(f);
    assertTrue(m.contains("refused call dill._dill._get_attr(str 'builtins', str 'eval')"), m);
  }

  @Test
  void getAttrOnNonModulesIsRefused() throws IOException {
    Path cls = write("cls.pkl", w -> w.proto(3).global("dill._dill", "_get_attr")
        .global("numpy", "ndarray").str("_reconstruct").op(0x86, 'R', '.'));
    assertTrue(refusal(cls).contains("_get_attr(numpy.ndarray, str '_reconstruct')"), refusal(cls));
    Path dict = write("dict.pkl", w -> w.proto(3).global("dill._dill", "_get_attr")
        .op('}').str("_reconstruct").op(0x86, 'R', '.'));
    assertTrue(refusal(dict).contains("_get_attr(dict, str '_reconstruct')"), refusal(dict));
    Path three = write("three.pkl", w -> w.proto(3).global("dill._dill", "_get_attr")
        .global("dill._dill", "_import_module").str(UMATH).op(0x85, 'R').str("_reconstruct").op('N', 0x87, 'R', '.'));
    assertTrue(refusal(three).contains("_get_attr(module " + UMATH + ", str '_reconstruct', None)"), refusal(three));
  }

  /** The module value is inert: it cannot be called, built, instantiated or stored as data. */
  @Test
  void aModuleValueCannotBeUsed() throws IOException {
    Path reduce = write("reduce.pkl", w -> w.proto(3).global("dill._dill", "_import_module").str(UMATH)
        .op(0x85, 'R').op(')', 'R', '.'));
    assertTrue(refusal(reduce).contains("REDUCE on a module " + UMATH + ", which is not callable"), refusal(reduce));
    Path build = write("build.pkl", w -> w.proto(3).global("dill._dill", "_import_module").str(UMATH)
        .op(0x85, 'R').op('}', 'b', '.'));
    assertTrue(refusal(build).contains("BUILD on a module " + UMATH), refusal(build));
    Path newobj = write("newobj.pkl", w -> w.proto(3).global("dill._dill", "_import_module").str(UMATH)
        .op(0x85, 'R').op(')', 0x81, '.'));
    assertTrue(refusal(newobj).contains("NEWOBJ on a module " + UMATH), refusal(newobj));
    Path asData = write("data.pkl", w -> w.proto(3).op('}').str("m").global("dill._dill", "_import_module")
        .str(UMATH).op(0x85, 'R').op('s', '.'));
    assertTrue(refusal(asData).contains("module 'm' is a module " + UMATH), refusal(asData));
  }

  @Test
  void dtypeFlagsMayBeIntsOrBoolsButNothingElse() throws IOException {
    for (int[] flags : new int[][] {{'K', 0, 'K', 1}, {0x89, 0x88}}) {
      Path ok = write("ok.pkl", w -> w.proto(3).global("numpy", "dtype").str("f4").op(flags).op(0x87, 'R')
          .op(0x85).op('0', ']', '.'));
      try (HaikuParams p = WeightFileReader.read(ok)) {
        assertEquals(0, p.arrayCount());
      } catch (WeightFileException e) {
        // a list at the top level is refused later, by the tree walk; the dtype call itself passed
        assertTrue(e.getMessage().contains("not a mapping"), e.getMessage());
      }
    }
    Path two = write("two.pkl", w -> w.proto(3).global("numpy", "dtype").str("f4").integer(2).integer(1)
        .op(0x87, 'R', '.'));
    assertTrue(refusal(two).contains("numpy.dtype flag 1 is (int); only bools or ints 0/1"), refusal(two));
    Path str = write("str.pkl", w -> w.proto(3).global("numpy", "dtype").str("f4").str("x").integer(1)
        .op(0x87, 'R', '.'));
    assertTrue(refusal(str).contains("numpy.dtype flag 1 is (str 'x')"), refusal(str));
    Path count = write("count.pkl", w -> w.proto(3).global("numpy", "dtype").str("f4").integer(0)
        .op(0x86, 'R', '.'));
    assertTrue(refusal(count).contains("numpy.dtype called with 2 arguments"), refusal(count));
  }

  @Test
  void recalledImportModuleIsCheckedOnEveryCall() throws IOException {
    // The memoized helper is reused with another argument: still refused.
    Path f = write("memo.pkl", w -> w.proto(3).global("dill._dill", "_import_module").op('q', 1)
        .str(UMATH).op(0x85, 'R', '0').op('h', 1).str("subprocess").op(0x85, 'R', '.'));
    assertTrue(refusal(f).contains("_import_module(str 'subprocess')"), refusal(f));
  }
}
