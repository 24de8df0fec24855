package org.nfnet.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17 through the real CLI: resume semantics and its explicit line, a resume from another
 * working directory (a child JVM), Ctrl-C (SIGINT to that child) printing step, checkpoint and the
 * resume command, plain non-TTY progress lines, whole-run metrics/evals/curves across resumes,
 * recipe options refused on resume; issue 14: a damaged latest checkpoint is skipped, no
 * checkpoint at all is refused without touching metrics.csv.
 */
class TrainResumeCliTest {
  @TempDir Path tmp;

  private static List<double[]> rows(Path csv) throws Exception {
    return MetricsLog.read(csv);
  }

  /** DeepMind's cosine (warm-up 0) at step t of a run of n steps, peak 0.1 x 8/256. */
  private static double cosine(double p) {
    return 0.5 * 0.1 * 8 / 256 * (1 + Math.cos(Math.PI * Math.min(1, p)));
  }

  @Test
  void resumeInterruptAndDamagedCheckpoints() throws Exception {
    // A run started in one directory with relative paths, in a child JVM whose stdout is a pipe
    // (not a terminal), interrupted with SIGINT.
    Path home = Files.createDirectories(tmp.resolve("home"));
    Files.copy(Path.of(Cli.nano()), home.resolve("nano.json"));
    Process p = Cli.child(home, "train", "--variant", "nano.json", "--data", "fashion-mnist-subset",
        "--steps", "200", "--batch", "8", "--warmup-epochs", "0", "--checkpoint-every", "3",
        "--eval-every", "3", "--progress-seconds", "0.2", "--out", "run", "--no-export");
    StringBuilder seen = new StringBuilder();
    BufferedReader r = Cli.reader(p);
    for (long at = 0; at < 8; ) {
      String line = Cli.await(p, r, seen, "step ");
      if (line.matches("step \\d+/200 .*")) {
        at = Long.parseLong(line.replaceAll("step (\\d+)/.*", "$1"));
      }
    }
    new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
    for (String line; (line = r.readLine()) != null; ) {
      seen.append(line).append('\n');
    }
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    String text = seen.toString();
    assertEquals(130, p.exitValue(), text);
    assertFalse(text.contains("\r"), "no carriage-return redraws when stdout is not a terminal");
    assertTrue(text.matches("(?s).*\ninterrupted at step \\d+\n.*"), text);
    long stopped = Long.parseLong(text.replaceAll("(?s).*\ninterrupted at step (\\d+)\n.*", "$1"));
    assertTrue(stopped >= 8, text);
    Path run = home.resolve("run");
    Path ckpt = run.resolve(String.format("checkpoints/ckpt-%010d", stopped));
    assertTrue(text.contains("checkpoint:  " + ckpt), text);
    assertTrue(text.contains("resume with: nfnet train --resume " + run), text);
    assertTrue(Files.isDirectory(ckpt));
    JsonNode saved = new ObjectMapper().readTree(run.resolve("run.json").toFile());
    assertEquals("variant.json", saved.get("variant").asText(), "variant copied into the run");
    assertEquals(Files.readString(Path.of(Cli.nano())), Files.readString(run.resolve("variant.json")));

    // From this JVM's working directory (cli/), where nano.json does not resolve.
    Cli.Run low = Cli.run("train", "--resume", run.toString(), "--steps", "4");
    assertEquals(2, low.code(), low.all());
    assertTrue(low.err().contains("is at step " + stopped) && low.err().contains("must exceed " + stopped),
        low.err());
    Cli.Run lr = Cli.run("train", "--resume", run.toString(), "--steps", "99", "--lr", "0.5");
    assertEquals(2, lr.code(), lr.all());
    assertTrue(lr.err().contains("--lr cannot change when resuming"), lr.err());

    long end = stopped + 6;
    Cli.Run rest = Cli.run("train", "--resume", run.toString(), "--steps", Long.toString(end),
        "--no-export");
    assertEquals(0, rest.code(), rest.all());
    assertTrue(rest.out().contains("resumed " + run + " from checkpoint " + ckpt.getFileName()
        + " at step " + stopped + " (of " + end + ")"), rest.out());
    List<double[]> steps = rows(run.resolve("metrics.csv"));
    assertEquals(end, steps.size());
    // The learning rate follows the 200-step cosine up to the interrupt, then the same cosine
    // stretched from its progress there (stopped / 200) to reach 0 at the new end: no jump.
    double p0 = stopped / 200.0;
    for (int t = 0; t < end; t++) {
      assertEquals(t, (long) steps.get(t)[0], "contiguous steps");
      double expected = t == 0 ? 0 : t < stopped ? cosine(t / 200.0)
          : cosine(p0 + (1 - p0) * (t - stopped) / (double) (end - stopped));
      // metrics.csv keeps 6 significant digits
      assertEquals(expected, steps.get(t)[3], 2e-5 * 0.1 * 8 / 256, "lr at step " + t);
    }
    List<double[]> evals = rows(run.resolve("evals.csv"));
    assertEquals(3, (long) evals.get(0)[0]);
    assertEquals(6, (long) evals.get(1)[0], "the first session's evaluations are kept");
    assertEquals(end, (long) evals.get(evals.size() - 1)[0]);
    assertEquals(3, CurvePlot.save(run, "t", tmp.resolve("c.png")), "loss, train top-1, eval top-1");
    assertTrue(Files.size(run.resolve("curves.png")) > 1000);
    JsonNode after = new ObjectMapper().readTree(run.resolve("run.json").toFile());
    assertEquals(end, after.get("steps").asLong());
    assertEquals(1, after.get("resumes").size(), "the resume is recorded");

    // Truncate the newest checkpoint: the resume falls back to the previous one and says so.
    Path newest = run.resolve(String.format("checkpoints/ckpt-%010d", end));
    Path data;
    try (Stream<Path> s = Files.list(newest)) {
      data = s.filter(f -> f.getFileName().toString().startsWith("variables.data")).findFirst().orElseThrow();
    }
    try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
      f.setLength(f.length() / 2);
    }
    List<Path> all;
    try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
      all = s.filter(f -> f.getFileName().toString().startsWith("ckpt-")).sorted().toList();
    }
    Path previous = all.get(all.size() - 2);
    Cli.Run fallback = Cli.run("train", "--resume", run.toString(), "--steps", Long.toString(end + 1),
        "--no-export");
    assertEquals(0, fallback.code(), fallback.all());
    assertTrue(fallback.out().contains("warning: skipping damaged checkpoint " + newest), fallback.out());
    assertTrue(fallback.out().contains("from checkpoint " + previous.getFileName() + " at step "
        + Long.parseLong(previous.getFileName().toString().substring(5))), fallback.out());

    // No checkpoint at all: refused, metrics.csv untouched.
    byte[] metrics = Files.readAllBytes(run.resolve("metrics.csv"));
    try (Stream<Path> s = Files.walk(run.resolve("checkpoints"))) {
      for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        if (!f.equals(run.resolve("checkpoints"))) {
          Files.delete(f);
        }
      }
    }
    Cli.Run none = Cli.run("train", "--resume", run.toString(), "--steps", Long.toString(end + 5));
    assertEquals(2, none.code(), none.all());
    assertTrue(none.err().contains("no intact checkpoint"), none.err());
    assertArrayEquals(metrics, Files.readAllBytes(run.resolve("metrics.csv")));
  }
}
