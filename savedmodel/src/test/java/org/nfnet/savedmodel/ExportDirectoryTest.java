package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The export directory rules of issue 14: --force never deletes a user's files, replacement is
 * atomic, concurrent exports do not overwrite each other, stale temporaries of dead processes are
 * removed, an unwritable destination is reported before any work.
 */
class ExportDirectoryTest {
  @TempDir
  Path tmp;

  /** A directory that looks like one of our exports (SavedModel + model card). */
  private static Path fakeExport(Path dir, String marker) throws IOException {
    Files.createDirectories(dir.resolve("variables"));
    Files.writeString(dir.resolve("saved_model.pb"), marker);
    Files.writeString(dir.resolve(ModelCard.JSON), "{\"format\": \"nfnet-savedmodel/1\", \"variant\": \"T0\"}");
    return dir;
  }

  private static void finish(ExportDirectory d, String marker) throws IOException {
    fakeExport(d.temp(), marker);
    d.commit();
  }

  private List<String> names() throws IOException {
    try (Stream<Path> s = Files.list(tmp)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void forceRefusesADirectoryWithUserFilesAndDeletesNothing() throws Exception {
    // "--out . --force" in a folder with notes.txt and the weights
    Path out = Files.createDirectories(tmp.resolve("work"));
    Files.writeString(out.resolve("notes.txt"), "mine");
    Files.writeString(out.resolve("F0_haiku.npz"), "weights");
    FileSystemException e = assertThrows(FileSystemException.class,
        () -> new NFNetExporter(TestModels.t0()).parameters(TestModels.randomValues(1)).force(true).export(out));
    assertTrue(e.getMessage().contains("is not an export of this tool") && e.getMessage().contains(out.toString()),
        e.getMessage());
    assertEquals("mine", Files.readString(out.resolve("notes.txt")));
    assertEquals("weights", Files.readString(out.resolve("F0_haiku.npz")));
    assertEquals(List.of("work"), names());
    // a SavedModel of someone else (no model card of ours) is not replaced either
    Path other = Files.createDirectories(tmp.resolve("other"));
    Files.writeString(other.resolve("saved_model.pb"), "theirs");
    assertThrows(FileSystemException.class, () -> ExportDirectory.create(other, true));
    assertEquals("theirs", Files.readString(other.resolve("saved_model.pb")));
  }

  @Test
  void forceRefusesFilesAndSymlinks() throws Exception {
    Path file = Files.writeString(tmp.resolve("model"), "a file");
    FileSystemException e = assertThrows(FileSystemException.class, () -> ExportDirectory.check(file, true));
    assertTrue(e.getMessage().contains("is a file, not an export directory"), e.getMessage());
    Path realExport = fakeExport(tmp.resolve("real"), "x");
    Path link = Files.createSymbolicLink(tmp.resolve("link"), realExport);
    e = assertThrows(FileSystemException.class, () -> ExportDirectory.check(link, true));
    assertTrue(e.getMessage().contains("is a symbolic link"), e.getMessage());
    assertEquals("a file", Files.readString(file));
  }

  @Test
  void withoutForceAnExistingTargetIsRefused() throws Exception {
    Path out = fakeExport(tmp.resolve("m"), "old");
    FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class, () -> ExportDirectory.check(out, false));
    assertTrue(e.getMessage().contains("use --force"), e.getMessage());
  }

  @Test
  void forceReplacesAnEarlierExportOrAnEmptyDirectoryAndLeavesNoTemporaries() throws Exception {
    Path out = fakeExport(tmp.resolve("m"), "old");
    finish(ExportDirectory.create(out, true), "new");
    assertEquals("new", Files.readString(out.resolve("saved_model.pb")));
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    finish(ExportDirectory.create(empty, true), "fresh");
    assertEquals("fresh", Files.readString(empty.resolve("saved_model.pb")));
    assertEquals(List.of("empty", "m"), names());
  }

  @Test
  void concurrentExportsToTheSameTargetDoNotOverwriteEachOther() throws Exception {
    Path out = tmp.resolve("m");
    ExportDirectory first = ExportDirectory.create(out, false);
    ExportDirectory second = ExportDirectory.create(out, false);
    finish(first, "first");
    fakeExport(second.temp(), "second");
    FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class, second::commit);
    assertTrue(e.getMessage().contains("appeared while exporting"), e.getMessage());
    second.abort();
    assertEquals("first", Files.readString(out.resolve("saved_model.pb")));
    assertEquals(List.of("m"), names());
    // a plain file taking the name meanwhile is not replaced either
    Path f = tmp.resolve("f");
    ExportDirectory third = ExportDirectory.create(f, false);
    Files.writeString(f, "user data");
    fakeExport(third.temp(), "x");
    assertThrows(FileAlreadyExistsException.class, third::commit);
    third.abort();
    assertEquals("user data", Files.readString(f));
  }

  @Test
  void unwritableDestinationIsReportedWithTheReason() throws Exception {
    Path file = Files.writeString(tmp.resolve("plain.txt"), "x");
    FileSystemException e = assertThrows(FileSystemException.class,
        () -> ExportDirectory.check(file.resolve("sub").resolve("model"), false));
    assertTrue(e.getMessage().contains(file + " is not a directory"), e.getMessage());
    // the exporter checks before building anything
    e = assertThrows(FileSystemException.class,
        () -> new NFNetExporter(TestModels.t0()).parameters(spec -> {
          throw new AssertionError("parameters requested before the output was checked");
        }).export(file.resolve("model")));
    assertTrue(e.getMessage().contains("is not a directory"), e.getMessage());
  }

  @Test
  void staleTemporariesOfDeadProcessesAreRemovedOthersKept() throws Exception {
    Process p = new ProcessBuilder("true").start();
    p.waitFor();
    long dead = p.pid();
    Path deadTemp = temp("m", "tmp", dead, "");
    Files.writeString(deadTemp.resolve("saved_model.pb"), "partial");
    long alive = ProcessHandle.current().parent().orElseThrow().pid();
    Path liveTemp = temp("m", "tmp", alive, "");
    Path unowned = Files.createDirectories(tmp.resolve(".m.tmp-" + UUID.randomUUID()));
    Path userDir = Files.createDirectories(tmp.resolve(".m.tmp-mine"));
    // an export moved aside for replacement whose replacement never arrived: restored
    Path aside = temp("n", "old", dead, "");
    fakeExport(aside, "n's model");

    finish(ExportDirectory.create(tmp.resolve("m2"), false), "x");
    assertFalse(Files.exists(deadTemp));
    assertFalse(Files.exists(Path.of(deadTemp + ".owner")));
    assertTrue(Files.isDirectory(liveTemp));
    assertTrue(Files.isDirectory(unowned));
    assertTrue(Files.isDirectory(userDir));
    assertEquals("n's model", Files.readString(tmp.resolve("n").resolve("saved_model.pb")));
    assertFalse(Files.exists(aside));

    // the shutdown-hook path: this process's own temporaries go too
    Path own = temp("m", "tmp", ProcessHandle.current().pid(), "");
    ExportDirectory.abandonOwnTemporaries(tmp.resolve("m"));
    assertFalse(Files.exists(own));
    assertTrue(Files.isDirectory(liveTemp));
  }

  @Test
  void aReusedPidWithAnotherStartTimeCountsAsDead() throws Exception {
    long alive = ProcessHandle.current().parent().orElseThrow().pid();
    Path reused = temp("m", "tmp", alive, "1999-01-01T00:00:00Z");
    ExportDirectory.removeStale(tmp);
    assertFalse(Files.exists(reused));
  }

  private Path temp(String target, String kind, long pid, String start) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("." + target + "." + kind + "-" + UUID.randomUUID()));
    String s = start.isEmpty()
        ? ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).map(Object::toString).orElse("")
        : start;
    Files.writeString(Path.of(dir + ".owner"), "pid=" + pid + "\nstart=" + s + "\ntarget=" + target + "\n");
    return dir;
  }
}
