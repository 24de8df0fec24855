package org.nfnet.converters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Broken and malicious files fail with a message naming the file and the problem. */
class HostileFileTest {
  @TempDir
  Path dir;

  private WeightFileException refused(Path file) {
    WeightFileException e = assertThrows(WeightFileException.class, () -> WeightFileReader.read(file).close());
    assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
    assertEquals(file, e.file());
    return e;
  }

  private Path write(String name, PickleWriterBody body) throws IOException {
    Path f = dir.resolve(name);
    try (PickleWriter w = new PickleWriter(f)) {
      body.write(w);
    }
    return f;
  }

  interface PickleWriterBody {
    void write(PickleWriter w) throws IOException;
  }

  @ParameterizedTest
  @CsvSource({"os,system", "builtins,eval", "posix,system", "subprocess,Popen", "numpy,load",
      "haiku._src.data_structures,to_haiku_dict"})
  void refusesEveryOtherGlobal(String module, String name) throws IOException {
    // the classic payload: os.system('echo pwned'), via GLOBAL (protocol 2 style)
    Path f = write("evil.pkl", w -> w.proto(2).global(module, name).str("echo pwned").op(0x85, 'R', '.'));
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("refused global '" + module + " " + name + "'"), e.getMessage());
    assertEquals(2, e.offset());
    assertTrue(e.getMessage().contains("(offset 2)"), e.getMessage());
  }

  @Test
  void refusesStackGlobalAndReportsItsOffset() throws IOException {
    Path f = write("evil4.pkl", w -> w.proto(4).stackGlobal("os", "system").str("id").op(0x85, 'R', '.'));
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("refused global 'os system'"), e.getMessage());
    assertEquals(2 + 4 + 8, e.offset()); // PROTO(2) + 'os'(4) + 'system'(8) -> STACK_GLOBAL
  }

  @Test
  void inspectorReportsTheRefusalInsteadOfThrowing() throws IOException {
    Path f = write("evil.pkl", w -> w.proto(3).global("os", "system").str("rm -rf /").op(0x85, 'R', '.'));
    InspectionReport r = Inspector.inspect(f);
    assertTrue(r.refused());
    assertTrue(r.toText().contains("REFUSED"), r.toText());
    assertTrue(r.refusal().contains("'os system'"), r.refusal());
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 11, 100, 500, 1000, 1460})
  void truncatedPickle(int length) throws IOException {
    byte[] all = Files.readAllBytes(TestFiles.resource("tiny_p4.pkl"));
    assertEquals(1461, all.length);
    Path f = dir.resolve("cut.pkl");
    Files.write(f, Arrays.copyOf(all, length));
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(ints = {4, 100, 1500, 3000, 3344})
  void truncatedNpz(int length) throws IOException {
    byte[] all = Files.readAllBytes(TestFiles.resource("tiny_stored.npz"));
    Path f = dir.resolve("cut.npz");
    Files.write(f, Arrays.copyOf(all, length));
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("end-of-central-directory"),
        e.getMessage());
  }

  @Test
  void notAWeightFile() throws IOException {
    Path f = dir.resolve("notes.txt");
    Files.writeString(f, "hello world");
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("not a weight file: starts with bytes 68 65 6c 6c"), e.getMessage());
    Path empty = Files.createFile(dir.resolve("empty.pkl"));
    assertTrue(refused(empty).getMessage().contains("file is empty"));
  }

  @Test
  void fifosAndDirectoriesAreRefusedWithoutOpeningThem() throws Exception {
    // opening a FIFO with no writer blocks forever: it must be refused before any open()
    Path fifo = dir.resolve("weights.pkl");
    assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
    WeightFileException e = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
        java.time.Duration.ofSeconds(20), () -> refused(fifo));
    assertTrue(e.getMessage().contains("is not a regular file (a FIFO, socket or device)"), e.getMessage());
    InspectionReport r = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
        java.time.Duration.ofSeconds(20), () -> Inspector.inspect(fifo));
    assertTrue(r.refused() && r.refusal().contains("not a regular file"), r.toText());
    assertTrue(refused(dir).getMessage().contains("is a directory"));
    // An empty path names the working directory to the file system; the error says it is empty.
    assertEquals("\"\": no file named (the path is empty)", refused(Path.of("")).getMessage());
  }

  @Test
  void zipWherePickleExpectedAndViceVersa() {
    WeightFileException a = assertThrows(WeightFileException.class,
        () -> WeightFileReader.readPickle(TestFiles.resource("tiny_stored.npz")));
    assertTrue(a.getMessage().contains("zip archive (a real numpy .npz), not a pickle"), a.getMessage());
    WeightFileException b = assertThrows(WeightFileException.class,
        () -> WeightFileReader.readNpz(TestFiles.resource("tiny_p3.pkl")));
    assertTrue(b.getMessage().contains("is a pickle"), b.getMessage());
    assertEquals(WeightFormat.NPZ, WeightFileReader.detect(TestFiles.resource("tiny_deflated.npz")));
    assertEquals(WeightFormat.PICKLE, WeightFileReader.detect(TestFiles.resource("tiny_p2.pkl")));
  }

  @Test
  void deepNestingIsBoundedWithoutStackOverflow() throws IOException {
    Path marks = write("marks.pkl", w -> {
      w.proto(4);
      for (int i = 0; i < 100_000; i++) {
        w.op('(');
      }
    });
    assertTrue(refused(marks).getMessage().contains("nested deeper than 32 levels"));
    Path tuples = write("tuples.pkl", w -> {
      w.proto(4).op(')');
      for (int i = 0; i < 100_000; i++) {
        w.op(0x85); // TUPLE1: ((((),),),) ...
      }
      w.op('.');
    });
    assertTrue(refused(tuples).getMessage().contains("nested deeper than 32 levels"));
    Path lists = write("lists.pkl", w -> {
      w.proto(4);
      for (int i = 0; i < 100_000; i++) {
        w.op(']');
      }
      for (int i = 0; i < 100_000; i++) {
        w.op('a');
      }
      w.op('.');
    });
    assertTrue(refused(lists).getMessage().contains("nested deeper than 32 levels"));
  }

  @Test
  void heapExhaustionByTinyOpcodesIsBounded() throws IOException {
    Path appends = write("appends.pkl", w -> {
      w.proto(4).op(']');
      for (int i = 0; i < 5_000_000; i++) {
        w.op('N', 'a');
      }
      w.op('.');
    });
    assertTrue(refused(appends).getMessage().contains("more than 4194304 items in containers"));
    Path memo = write("memo_flood.pkl", w -> {
      w.proto(4).op('N');
      for (int i = 0; i < 1_100_000; i++) {
        w.op(0x94); // MEMOIZE: a new memo entry each time
      }
      w.op('.');
    });
    assertTrue(refused(memo).getMessage().contains("more than 1048576 memo entries"));
  }

  @Test
  void memoReferenceOutOfRange() throws IOException {
    Path f = write("memo.pkl", w -> w.proto(4).op('}', 0x94).op('h', 7).op('.'));
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("memo reference 7 was never stored (memo has 1 entries)"), e.getMessage());
    assertEquals(4, e.offset());
    Path g = write("memo2.pkl", w -> w.proto(4).op('j', 0xff, 0xff, 0xff, 0x7f).op('.'));
    assertTrue(refused(g).getMessage().contains("memo reference 2147483647"));
  }

  @Test
  void unknownOpcodeIsNamedInHexWithItsOffset() throws IOException {
    Path f = write("op.pkl", w -> w.proto(4).op('}').op(0xFE));
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("unsupported pickle opcode 0xfe (unknown)"), e.getMessage());
    assertEquals(3, e.offset());
    Path g = write("inst.pkl", w -> w.proto(2).op('i'));
    assertTrue(refused(g).getMessage().contains("0x69 (INST"), refused(g).getMessage());
  }

  @Test
  void unsupportedProtocolsAndMissingProto() throws IOException {
    assertTrue(refused(write("p1.pkl", w -> w.op(0x80, 1).op('N', '.'))).getMessage()
        .contains("pickle protocol 1 is not supported"));
    assertTrue(refused(write("p6.pkl", w -> w.op(0x80, 6).op('N', '.'))).getMessage()
        .contains("pickle protocol 6 is not supported"));
  }

  private Path oneArray(String name, PickleWriter.Arr a) throws IOException {
    Map<String, Map<String, PickleWriter.Arr>> tree = new LinkedHashMap<>();
    tree.put("NFNet/~/linear", Map.of("w", a));
    return write(name, w -> w.haikuTree(tree));
  }

  @Test
  void shapeDisagreeingWithTheData() throws IOException {
    Path f = oneArray("short.pkl", PickleWriter.Arr.f32(new long[] {2, 3}, 1, 2, 3, 4, 5));
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("parameter 'NFNet/~/linear/w' declares shape [2, 3] of float32 = 6 "
        + "elements = 24 bytes, but its data has 20 bytes"), e.getMessage());
  }

  @Test
  void hugeShapeClaimIsRefusedWithoutAllocating() throws IOException {
    Path f = oneArray("huge.pkl", PickleWriter.Arr.f32(new long[] {1_000_000, 1_000_000}, 1, 2));
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("1000000000000 elements = 4000000000000 bytes, but its data has 8 bytes"),
        e.getMessage());
    Path g = oneArray("overflow.pkl", PickleWriter.Arr.f32(new long[] {1L << 40, 1L << 40}, 1));
    assertTrue(refused(g).getMessage().contains("overflows 64 bits"));
  }

  @Test
  void negativeDimension() throws IOException {
    Path f = oneArray("neg.pkl", PickleWriter.Arr.f32(new long[] {-2, -3}, 1, 2, 3, 4, 5, 6));
    assertTrue(refused(f).getMessage().contains("parameter 'NFNet/~/linear/w' declares a negative dimension"
        + " in shape [-2, -3]"));
  }

  @Test
  void unsupportedDtypeNamesTheParameter() throws IOException {
    Path f = oneArray("int.pkl", new PickleWriter.Arr(new long[] {2}, "i4", "<", new byte[8], -1));
    assertTrue(refused(f).getMessage().contains("parameter 'NFNet/~/linear/w' has dtype 'i4'; only float32"));
  }

  @Test
  void byteLengthClaimBeyondTheFile() throws IOException {
    Path f = write("claim.pkl", w -> {
      w.proto(4).op(0x8e);
      w.raw(new byte[] {0, 0, 0, 0, 0, 0, 0, 0x40}); // BINBYTES8 of 2^62 bytes
    });
    WeightFileException e = refused(f);
    assertTrue(e.getMessage().contains("truncated: BINBYTES8 needs 4611686018427387904 bytes"), e.getMessage());
  }
}
