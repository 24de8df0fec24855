package org.nfnet.tests;

import org.nfnet.testing.SharedFixtures;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.cli.Main;

/**
 * {@code nfnet convert} / {@code inspect} under hostile and faulty conditions (issues 14 and 15):
 * user files are never deleted, refusals leave nothing behind, and every error names the file and
 * the reason.
 */
class ConvertReliabilityTest {
  @TempDir Path tmp;

  private static final Path RELEASE = SharedFixtures.t0().resolve("t0_seed5_release.pkl");

  /** Runs the CLI and returns exit code + everything it printed. */
  private record Run(int code, String out) {}

  private static Run run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream p = new PrintStream(buf, true, StandardCharsets.UTF_8);
    System.setOut(p);
    System.setErr(p);
    try {
      int code = Main.run(args);
      return new Run(code, buf.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  private List<String> names(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void forceDoesNotDeleteAFolderOfUserFiles() throws Exception {
    // issue 14 bug 1: "--out . --force" in a folder with notes.txt and the weights
    Path work = Files.createDirectories(tmp.resolve("work"));
    Files.writeString(work.resolve("notes.txt"), "my notes");
    Path weights = Files.copy(RELEASE, work.resolve("t0.pkl"));
    Run r = run("convert", "--weights", weights.toString(), "--variant", SharedFixtures.t0VariantFile().toString(),
        "--out", work.toString(), "--force");
    assertEquals(2, r.code(), r.out());
    assertTrue(r.out().contains("contains the weights"), r.out());
    Path other = Files.createDirectories(tmp.resolve("other"));
    Files.writeString(other.resolve("notes.txt"), "my notes");
    r = run("convert", "--weights", RELEASE.toString(), "--variant", SharedFixtures.t0VariantFile().toString(),
        "--out", other.toString(), "--force");
    assertEquals(2, r.code(), r.out());
    assertTrue(r.out().contains("is not an export of this tool"), r.out());
    assertEquals(List.of("notes.txt", "t0.pkl"), names(work));
    assertEquals("my notes", Files.readString(other.resolve("notes.txt")));
    assertEquals(List.of("other", "work"), names(tmp));
  }

  @Test
  void forceReplacesAnEarlierExportAndLeavesNoTemporaries() throws Exception {
    Path model = tmp.resolve("m");
    String v = SharedFixtures.t0VariantFile().toString();
    assertEquals(0, run("convert", "--weights", RELEASE.toString(), "--variant", v, "--out", model.toString()).code());
    // a dead convert's temporary beside it (kill -9): removed by the next run
    Path stale = Files.createDirectories(tmp.resolve(".m.tmp-" + UUID.randomUUID()));
    Process p = new ProcessBuilder("true").start();
    p.waitFor();
    Files.writeString(Path.of(stale + ".owner"), "pid=" + p.pid() + "\nstart=\ntarget=m\n");
    Run r = run("convert", "--weights", SharedFixtures.t0().resolve("t0_seed31_release.pkl").toString(), "--variant", v,
        "--out", model.toString(), "--force");
    assertEquals(0, r.code(), r.out());
    assertTrue(Files.readString(model.resolve("model_card.json")).contains("t0_seed31_release.pkl"));
    assertEquals(List.of("m"), names(tmp));
  }

  /** A protocol-3 pickle from opcodes: strings become SHORT_BINUNICODE, "c:mod name" a GLOBAL. */
  private static byte[] pickle(Object... parts) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(0x80);
    b.write(3);
    for (Object p : parts) {
      if (p instanceof String s && s.startsWith("c:")) {
        b.writeBytes(("c" + s.substring(2).replace(' ', '\n') + "\n").getBytes(StandardCharsets.US_ASCII));
      } else if (p instanceof String s) {
        byte[] u = s.getBytes(StandardCharsets.UTF_8);
        b.write(0x8c);
        b.write(u.length);
        b.writeBytes(u);
      } else {
        b.write((Integer) p);
      }
    }
    b.write('.');
    return b.toByteArray();
  }

  static final String UMATH = "numpy.core._multiarray_umath";
  static final Object[] MODULE = {"c:dill._dill _import_module", UMATH, 0x85, (int) 'R'};

  private static Object[] cat(Object[] a, Object... b) {
    Object[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  /** Every refused form of issue 15, through the CLI: clear message, exit code, nothing written. */
  @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.MethodSource("hostileForms")
  void hostileReleaseLayoutFormsAreRefusedAndLeaveNothing(String expected, Object[] parts) throws Exception {
    Path evil = Files.write(tmp.resolve("evil.pkl"), pickle(parts));
    Run r = run("convert", "--weights", evil.toString(), "--variant", SharedFixtures.t0VariantFile().toString(),
        "--out", tmp.resolve("out").toString());
    assertEquals(2, r.code(), r.out());
    assertTrue(r.out().contains(evil.toString()) && r.out().contains(expected), r.out());
    assertEquals(List.of("evil.pkl"), names(tmp));
    Run i = run("inspect", evil.toString());
    assertEquals(1, i.code(), i.out());
    assertTrue(i.out().contains("REFUSED") && i.out().contains(expected), i.out());
  }

  static Stream<org.junit.jupiter.params.provider.Arguments> hostileForms() {
    return Stream.of(
        new Object[] {"refused call dill._dill._import_module(str 'os')",
            new Object[] {"c:dill._dill _import_module", "os", 0x85, (int) 'R'}},
        new Object[] {"refused call dill._dill._import_module(str '" + UMATH + "', bool)",
            new Object[] {"c:dill._dill _import_module", UMATH, 0x88, 0x86, (int) 'R'}},
        new Object[] {"refused call dill._dill._get_attr(module " + UMATH + ", str 'frombuffer')",
            cat(new Object[] {"c:dill._dill _get_attr"}, cat(MODULE, "frombuffer", 0x86, (int) 'R'))},
        new Object[] {"refused call dill._dill._get_attr(str 'builtins', str 'eval')",
            new Object[] {"c:dill._dill _get_attr", "builtins", "eval", 0x86, (int) 'R'}},
        new Object[] {"refused call dill._dill._get_attr(dict, str '_reconstruct')",
            new Object[] {"c:dill._dill _get_attr", (int) '}', "_reconstruct", 0x86, (int) 'R'}},
        new Object[] {"BUILD on a module " + UMATH, cat(MODULE, (int) '}', (int) 'b')},
        new Object[] {"REDUCE on a module " + UMATH + ", which is not callable", cat(MODULE, (int) ')', (int) 'R')},
        new Object[] {"NEWOBJ on a module " + UMATH, cat(MODULE, (int) ')', 0x81)},
        new Object[] {"refused call dill._dill._import_module(str 'subprocess')",
            new Object[] {"c:dill.dill _import_module", "subprocess", 0x85, (int) 'R'}})
        .map(a -> org.junit.jupiter.params.provider.Arguments.of(a[0], a[1]));
  }

  @Test
  void twoConcurrentConvertsToTheSameOutNeverBothSucceed() throws Exception {
    Path model = tmp.resolve("m");
    String v = SharedFixtures.t0VariantFile().toString();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
    try {
      java.util.concurrent.Future<Integer> a = pool.submit(() -> Main.run("convert", "--weights", RELEASE.toString(),
          "--variant", v, "--out", model.toString()));
      java.util.concurrent.Future<Integer> b = pool.submit(() -> Main.run("convert", "--weights",
          SharedFixtures.t0().resolve("t0_seed31_release.pkl").toString(), "--variant", v, "--out", model.toString()));
      List<Integer> codes = List.of(a.get(), b.get());
      assertEquals(1, codes.stream().filter(c -> c == 0).count(), "exit codes " + codes);
      assertTrue(codes.contains(2), "exit codes " + codes);
      String card = Files.readString(model.resolve("model_card.json"));
      assertTrue(card.contains(codes.get(0) == 0 ? "t0_seed5_release.pkl" : "t0_seed31_release.pkl"), card);
      assertEquals(List.of("m"), names(tmp));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void inspectNamesTheLayout() {
    Run r = run("inspect", RELEASE.toString());
    assertEquals(0, r.code(), r.out());
    assertTrue(r.out().contains("layout:          dill 0.3.x / numpy <= 1.18 release layout"), r.out());
    r = run("inspect", SharedFixtures.t0().resolve("t0_seed5_p3.pkl").toString());
    assertTrue(r.out().contains("layout:          plain layout"), r.out());
  }

  @Test
  void fifoIsRefusedUpFrontInsteadOfHanging() throws Exception {
    Path fifo = tmp.resolve("weights.fifo");
    Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
    assertEquals(0, mk.waitFor());
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
      Run c = run("convert", "--weights", fifo.toString(), "--out", tmp.resolve("m").toString());
      assertEquals(2, c.code(), c.out());
      assertTrue(c.out().contains(fifo + ": is not a regular file"), c.out());
      Run i = run("inspect", fifo.toString());
      assertTrue(i.code() != 0, i.out());
      assertTrue(i.out().contains("is not a regular file"), i.out());
    });
  }

  @Test
  void errorsNameTheFileAndTheReason() throws Exception {
    String v = SharedFixtures.t0VariantFile().toString();
    Run labels = run("convert", "--weights", RELEASE.toString(), "--variant", v, "--labels", "/nonexist",
        "--out", tmp.resolve("m").toString());
    assertEquals(2, labels.code());
    assertTrue(labels.out().contains("--labels /nonexist: no such file"), labels.out());

    Path notADir = Files.writeString(tmp.resolve("file.txt"), "x");
    Run unwritable = run("convert", "--weights", RELEASE.toString(), "--variant", v,
        "--out", notADir.resolve("m").toString());
    assertEquals(2, unwritable.code());
    assertTrue(unwritable.out().contains(notADir + " is not a directory"), unwritable.out());

    Path named = Files.copy(RELEASE, tmp.resolve("F0_haiku.npz"));
    Run md5 = run("convert", "--weights", named.toString(), "--variant", v, "--out", tmp.resolve("m").toString());
    assertEquals(2, md5.code());
    assertTrue(md5.out().contains("md5") && md5.out().contains("--no-verify"), md5.out());

    Run noVariant = run("convert", "--weights", RELEASE.toString(), "--out", tmp.resolve("m").toString());
    assertEquals(2, noVariant.code());
    assertTrue(noVariant.out().contains("--variant FILE.json"), noVariant.out());

    Run precision = run("convert", "--weights", RELEASE.toString(), "--variant", v,
        "--precision", "bf17", "--out", tmp.resolve("m").toString());
    assertEquals(2, precision.code());
    assertTrue(precision.out().contains("--precision: unknown precision 'bf17'"), precision.out());
    assertFalse(Files.exists(tmp.resolve("m")));
  }
}
