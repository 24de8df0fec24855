package org.nfnet.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Up-front checks of files a command reads, so a typo or a FIFO fails at once with the option, the
 * path and the reason, instead of after minutes of work or never (opening a FIFO with no writer
 * blocks forever).
 */
final class InputFiles {
  private InputFiles() {}

  /** @throws IllegalArgumentException unless {@code file} is a readable regular file */
  static void requireRegularFile(Path file, String option) {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(file, BasicFileAttributes.class); // follows symbolic links
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(option + " " + file + ": no such file");
    } catch (IOException e) {
      throw new IllegalArgumentException(option + " " + file + ": cannot be read (" + e + ")");
    }
    if (a.isDirectory()) {
      throw new IllegalArgumentException(option + " " + file + ": is a directory, not a file");
    }
    if (!a.isRegularFile()) {
      throw new IllegalArgumentException(option + " " + file + ": is not a regular file (a FIFO, socket or "
          + "device); only regular files are read");
    }
    if (!Files.isReadable(file)) {
      throw new IllegalArgumentException(option + " " + file + ": permission denied");
    }
  }
}
