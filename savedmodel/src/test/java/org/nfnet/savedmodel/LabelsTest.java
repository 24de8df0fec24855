package org.nfnet.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14: label file errors name the file and the reason (was "error: /nonexist"). */
class LabelsTest {
  @TempDir
  Path tmp;

  @Test
  void badLabelFilesAreNamedWithTheReason() throws Exception {
    Path missing = tmp.resolve("nonexist.txt");
    IOException e = assertThrows(IOException.class, () -> Labels.forModel(3, missing));
    assertEquals("label file " + missing + " does not exist", e.getMessage());
    e = assertThrows(IOException.class, () -> Labels.load(tmp));
    assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
    Path latin1 = tmp.resolve("latin1.txt");
    Files.write(latin1, new byte[] {'c', 'a', 'f', (byte) 0xe9, '\n'});
    e = assertThrows(IOException.class, () -> Labels.load(latin1));
    assertTrue(e.getMessage().contains("not UTF-8"), e.getMessage());
    Path two = tmp.resolve("two.txt");
    Files.writeString(two, "cat\ndog\n\n");
    assertEquals(List.of("cat", "dog"), Labels.load(two));
    IllegalArgumentException c = assertThrows(IllegalArgumentException.class, () -> Labels.forModel(3, two));
    assertTrue(c.getMessage().contains(two.toString()) && c.getMessage().contains("2 lines")
        && c.getMessage().contains("3 classes"), c.getMessage());
  }
}
