package org.nfnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17: on an 80-column terminal the progress bar is redrawn within 80 columns (no trail of
 * wrapped lines). The terminal is a pseudo-terminal from util-linux {@code script}; skipped where
 * it is missing.
 */
class TerminalProgressTest {
  @TempDir Path tmp;

  @Test
  void progressBarFitsAnEightyColumnTerminal() throws Exception {
    Assumptions.assumeTrue(new ProcessBuilder("sh", "-c", "command -v script").start().waitFor() == 0,
        "needs script(1) for a pseudo-terminal");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cmd = List.of("stty", "cols", "80;", java, "-Xmx2g", "-cp", "'" + System.getProperty("java.class.path")
        + "'", Main.class.getName(), "train", "--variant", Cli.nano(), "--data", "fashion-mnist-subset",
        "--steps", "30", "--batch", "8", "--out", tmp.resolve("run").toString(), "--no-export")
        .stream().collect(Collectors.joining(" "));
    Path log = tmp.resolve("tty.log");
    Process p = new ProcessBuilder("script", "-qec", cmd, log.toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectErrorStream(true).start();
    assertTrue(p.waitFor(300, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue());
    String text = Files.readString(log, StandardCharsets.UTF_8).replaceAll("\u001b\\[[0-9;?]*[A-Za-z]", "");
    List<String> redraws = List.of(text.split("[\r\n]")).stream()
        .filter(s -> s.startsWith("train ") && s.contains("%")).toList();
    assertTrue(redraws.size() >= 2, "a bar redrawn in place:\n" + text);
    assertTrue(text.contains("\r"), "redrawn with carriage returns");
    for (String r : redraws) {
      assertTrue(r.length() <= 80, r.length() + " columns: " + r);
    }
    assertTrue(redraws.get(redraws.size() - 1).contains("30/30"), redraws.toString());
  }
}
