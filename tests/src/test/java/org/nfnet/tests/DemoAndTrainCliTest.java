package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nfnet.cli.Main;

/** The README's main command, shortened, and train + resume through the CLI. */
class DemoAndTrainCliTest {
  @TempDir Path tmp;

  private static String captured(Runnable r) {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      r.run();
    } finally {
      System.setOut(old);
    }
    String s = buf.toString(StandardCharsets.UTF_8);
    old.print(s);
    return s;
  }

  @Test
  void shortDemoTrainsExportsReloadsAndPredicts() throws Exception {
    Path out = tmp.resolve("demo");
    int[] code = new int[1];
    String text = captured(() -> code[0] = Main.run("demo", "--steps", "120", "--data",
        "fashion-mnist-subset", "--out", out.toString()));
    assertEquals(0, code[0], text);
    assertTrue(Files.isRegularFile(out.resolve("savedmodel/saved_model.pb")));
    assertTrue(Files.isRegularFile(out.resolve("curves.png")));
    try (var events = Files.walk(out.resolve("tensorboard"))) {
      assertTrue(events.anyMatch(p -> p.getFileName().toString().contains("tfevents")));
    }
    Matcher m = Pattern.compile("(\\d) of 8 correct").matcher(text);
    assertTrue(m.find(), text);
    assertEquals(8, Pattern.compile("true: .* predicted: ").matcher(text).results().count());
    // It learns: 10 balanced classes (chance 10%); the final evaluation covers the whole test split.
    // Measured on this fixed run (seed 0): top-1 0.716, 8 of 8, mean loss 2.295 -> 1.221.
    List<String> evals = Files.readAllLines(out.resolve("evals.csv"));
    String[] last = evals.get(evals.size() - 1).split(",");
    assertEquals(120, Long.parseLong(last[0]));
    assertEquals(500, Long.parseLong(last[1]), "the whole bundled test split");
    double top1 = Double.parseDouble(last[3]);
    System.out.printf("demo: final eval top-1 %.3f%n", top1);
    assertTrue(top1 >= 0.55, "top-1 " + top1 + " is not well above chance (0.10)");
    assertTrue(Integer.parseInt(m.group(1)) >= 5, "served predictions: " + m.group(0));
    // ... and the training loss falls: the mean of the last 10 steps against the first 10.
    List<String> rows = Files.readAllLines(out.resolve("metrics.csv"));
    double first = meanLoss(rows.subList(1, 11));
    double lastLoss = meanLoss(rows.subList(rows.size() - 10, rows.size()));
    System.out.printf("demo: mean loss %.3f (steps 0-9) -> %.3f (steps 110-119)%n", first, lastLoss);
    assertTrue(lastLoss < first - 0.5, "loss " + first + " -> " + lastLoss);
  }

  private static double meanLoss(List<String> rows) {
    return rows.stream().mapToDouble(r -> Double.parseDouble(r.split(",")[1])).average().orElseThrow();
  }

  @Test
  void trainResumesFromItsRunDirectoryWithTheSavedSettings() throws Exception {
    Path run = tmp.resolve("run");
    assertEquals(0, Main.run("train", "--variant", "../variants/nano.json", "--data",
        "fashion-mnist-subset", "--steps", "6", "--batch", "8", "--checkpoint-every", "3",
        "--out", run.toString(), "--no-progress", "--no-export"));
    JsonNode settings = new ObjectMapper().readTree(run.resolve("run.json").toFile());
    assertEquals(8, settings.get("batch").asInt());
    assertTrue(Files.isDirectory(run.resolve("checkpoints/ckpt-0000000006")));
    // Continue the same run to 9 steps: batch size etc. come from run.json.
    assertEquals(0, Main.run("train", "--resume", run.toString(), "--steps", "9", "--no-progress",
        "--no-export"));
    assertTrue(Files.isDirectory(run.resolve("checkpoints/ckpt-0000000009")));
    // A second fresh run into the same directory is refused.
    assertEquals(2, Main.run("train", "--variant", "../variants/nano.json", "--steps", "2",
        "--out", run.toString()));
  }
}
