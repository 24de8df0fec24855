package org.nfnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Input paths: each refusal names the option, the path and the reason. */
class InputFilesTest {
  @TempDir
  Path dir;

  /** An empty path would be the working directory: every path option refuses it (Main). */
  @Test
  void emptyPathOptionsAreRefusedBeforeAnythingRuns() {
    Cli.Run train = Cli.run("train", "--variant", Cli.nano(), "--out", "");
    assertEquals(2, train.code());
    assertTrue(train.err().contains("Invalid value for option '--out': the path is empty"),
        train.err());
    Cli.Run inspect = Cli.run("inspect", "");
    assertEquals(2, inspect.code());
    assertTrue(inspect.err().contains("(FILE): the path is empty"), inspect.err());
  }

  @Test
  void directoriesAndMissingFilesAreNamed() {
    assertEquals("FILE " + dir + ": is a directory, not a file", refusal(dir, "FILE"));
    Path missing = dir.resolve("missing.pkl");
    assertEquals("--weights " + missing + ": no such file", refusal(missing, "--weights"));
  }

  private static String refusal(Path file, String option) {
    return assertThrows(IllegalArgumentException.class,
        () -> InputFiles.requireRegularFile(file, option)).getMessage();
  }
}
