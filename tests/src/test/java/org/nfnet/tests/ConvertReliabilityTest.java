package org.nfnet.tests;

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

  private static final Path RELEASE = Fixtures.t0().resolve("t0_seed5_release.pkl");

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
    Run r = run("convert", "--weights", weights.toString(), "--variant", Fixtures.t0Reference().toString(),
        "--out", work.toString(), "--force");
    assertEquals(2, r.code(), r.out());
    assertTrue(r.out().contains("contains the weights"), r.out());
    Path other = Files.createDirectories(tmp.resolve("other"));
    Files.writeString(other.resolve("notes.txt"), "my notes");
    r = run("convert", "--weights", RELEASE.toString(), "--variant", Fixtures.t0Reference().toString(),
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
    String v = Fixtures.t0Reference().toString();
    assertEquals(0, run("convert", "--weights", RELEASE.toString(), "--variant", v, "--out", model.toString()).code());
    // a dead convert's temporary beside it (kill -9): removed by the next run
    Path stale = Files.createDirectories(tmp.resolve(".m.tmp-" + UUID.randomUUID()));
    Process p = new ProcessBuilder("true").start();
    p.waitFor();
    Files.writeString(Path.of(stale + ".owner"), "pid=" + p.pid() + "\nstart=\ntarget=m\n");
    Run r = run("convert", "--weights", Fixtures.t0().resolve("t0_seed31_release.pkl").toString(), "--variant", v,
        "--out", model.toString(), "--force");
    assertEquals(0, r.code(), r.out());
    assertTrue(Files.readString(model.resolve("model_card.json")).contains("t0_seed31_release.pkl"));
    assertEquals(List.of("m"), names(tmp));
  }

  @Test
  void hostileReleaseLayoutFileIsRefusedAndLeavesNothing() throws Exception {
    // dill's _import_module('os'), the way the release files call _import_module for numpy
    Path evil = tmp.resolve("evil.pkl");
    byte[] os = "os".getBytes(StandardCharsets.US_ASCII);
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    b.write(new byte[] {(byte) 0x80, 3});
    b.writeBytes("cdill._dill\n_import_module\n".getBytes(StandardCharsets.US_ASCII));
    b.write(0x8c);
    b.write(os.length);
    b.writeBytes(os);
    b.write(new byte[] {(byte) 0x85, 'R', '.'});
    Files.write(evil, b.toByteArray());
    Path out = tmp.resolve("out");
    Run r = run("convert", "--weights", evil.toString(), "--variant", Fixtures.t0Reference().toString(),
        "--out", out.toString());
    assertEquals(2, r.code(), r.out());
    assertTrue(r.out().contains("refused call dill._dill._import_module(str 'os')"), r.out());
    assertEquals(List.of("evil.pkl"), names(tmp));
    Run i = run("inspect", evil.toString());
    assertEquals(1, i.code(), i.out());
    assertTrue(i.out().contains("REFUSED") && i.out().contains("_import_module(str 'os')"), i.out());
  }

  @Test
  void inspectNamesTheLayout() {
    Run r = run("inspect", RELEASE.toString());
    assertEquals(0, r.code(), r.out());
    assertTrue(r.out().contains("layout:          dill 0.3.x / numpy <= 1.18 release layout"), r.out());
    r = run("inspect", Fixtures.t0().resolve("t0_seed5_p3.pkl").toString());
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
    String v = Fixtures.t0Reference().toString();
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
    assertFalse(Files.exists(tmp.resolve("m")));
  }
}
