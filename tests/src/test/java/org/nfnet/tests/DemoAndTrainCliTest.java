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
    String text = captured(() -> code[0] = Main.run("demo", "--steps", "40", "--data",
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
