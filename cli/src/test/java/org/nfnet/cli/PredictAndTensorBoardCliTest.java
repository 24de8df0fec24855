package org.nfnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * One short run plus its resume, then: TensorBoard's own event reader reads the logs (tags and
 * step ranges, skipped where TensorBoard cannot be installed), and {@code predict} scripts well
 * (--json lines, directories, globs, bad files reported by name, exit code 1 only on failures).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PredictAndTensorBoardCliTest {
  @TempDir static Path tmp;
  Path run;

  @BeforeAll
  void shortRunAndItsResume() {
    run = tmp.resolve("run");
    Cli.Run a = Cli.run("train", "--variant", Cli.nano(), "--data", "fashion-mnist-subset",
        "--steps", "4", "--batch", "8", "--eval-every", "2", "--out", run.toString());
    assertEquals(0, a.code(), a.all());
    Cli.Run b = Cli.run("train", "--resume", run.toString(), "--steps", "12", "--no-export");
    assertEquals(0, b.code(), b.all());
  }

  /** A Python with TensorBoard: the system's, else a venv in target/ from the machine's wheels. */
  private static String pythonWithTensorBoard() throws Exception {
    if (exec(List.of("python3", "-c", "import tensorboard"), 60) == 0) {
      return "python3";
    }
    Path venv = Path.of("target", "tb-venv").toAbsolutePath();
    String py = venv.resolve("bin/python").toString();
    if (!Files.exists(venv.resolve("bin/python"))
        && exec(List.of("python3", "-m", "venv", venv.toString()), 120) != 0) {
      return null;
    }
    if (exec(List.of(py, "-c", "import tensorboard"), 60) == 0) {
      return py;
    }
    exec(List.of(py, "-m", "pip", "install", "-q", "--retries", "0", "--timeout", "10",
        "tensorboard"), 600);
    return exec(List.of(py, "-c", "import tensorboard"), 60) == 0 ? py : null;
  }

  private static int exec(List<String> cmd, long seconds) throws Exception {
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(
          ProcessBuilder.Redirect.DISCARD).start();
    } catch (java.io.IOException e) {
      return -1;
    }
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return -1;
    }
    return p.exitValue();
  }

  @Test
  void tensorBoardReadsTheRunAndItsResume() throws Exception {
    String py = pythonWithTensorBoard();
    Assumptions.assumeTrue(py != null, "TensorBoard cannot be installed here");
    Path script = tmp.resolve("read_events.py");
    try (var in = getClass().getResourceAsStream("/read_events.py")) {
      Files.copy(in, script);
    }
    Process p = new ProcessBuilder(py, script.toString(), run.resolve("tensorboard").toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String json = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor());
    JsonNode tags = new ObjectMapper().readTree(json);
    List<String> scalars = new ArrayList<>();
    tags.get("scalars").fieldNames().forEachRemaining(scalars::add);
    assertEquals(List.of("eval/top1", "eval/top5", "train/clip_fraction",
        "train/clip_fraction_gains_biases", "train/clip_fraction_weights", "train/learning_rate",
        "train/loss", "train/top1"), scalars.stream().sorted().toList());
    assertEquals(3, tags.get("images").size(), json);
    // Train summaries every 10 steps over both sessions (steps 0..11), evaluations every 2 steps
    // (run.json keeps --eval-every) in both sessions, up to step 12.
    assertEquals(List.of(0, 10), ints(tags.get("scalars").get("train/loss")));
    List<Integer> evals = ints(tags.get("scalars").get("eval/top1"));
    assertEquals(2, (int) evals.get(0));
    assertEquals(12, (int) evals.get(evals.size() - 1));
    assertEquals(List.of(2, 4, 6, 8, 10, 12), evals, "both sessions' evaluations");
  }

  private static List<Integer> ints(JsonNode a) {
    List<Integer> out = new ArrayList<>();
    a.forEach(n -> out.add(n.asInt()));
    return out;
  }

  @Test
  void predictJsonDirectoriesGlobsAndBadInputs() throws Exception {
    Path model = run.resolve("savedmodel");
    assertTrue(Files.isRegularFile(model.resolve("saved_model.pb")));
    Path images = Files.createDirectories(tmp.resolve("images/sub"));
    BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
    ImageIO.write(img, "png", tmp.resolve("images/a.png").toFile());
    ImageIO.write(img, "png", images.resolve("b.png").toFile());
    Files.writeString(tmp.resolve("images/broken.png"), "not an image");
    Path big = tmp.resolve("big.png");
    try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
      f.setLength(3L << 30); // a 3 GB sparse file
    }
    Path fifo = tmp.resolve("fifo.png");
    Assumptions.assumeTrue(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0);

    Cli.Run ok = Cli.run("predict", "--model", model.toString(), "--json", "--recursive",
        tmp.resolve("images/a.png").toString(), tmp.resolve("images/sub").toString());
    assertEquals(0, ok.code(), ok.all());
    Cli.Run r = Cli.run("predict", "--model", model.toString(), "--json", "--top", "10",
        tmp.resolve("images") + "/*.png", tmp.resolve("missing.png").toString(), big.toString(),
        fifo.toString(), tmp.resolve("images").toString());
    assertEquals(1, r.code(), r.all());
    Map<String, JsonNode> byPath = new HashMap<>();
    for (String line : r.out().split("\n")) {
      JsonNode n = new ObjectMapper().readTree(line);
      byPath.put(n.get("path").asText() + (byPath.containsKey(n.get("path").asText()) ? "#2" : ""), n);
    }
    JsonNode a = byPath.get(tmp.resolve("images/a.png").toString());
    assertEquals(10, a.get("top").size(), "--top 10 honoured for a 10-class model");
    double sum = 0;
    for (JsonNode t : a.get("top")) {
      sum += t.get("probability").asDouble();
      assertTrue(t.has("label") && t.has("index"));
    }
    assertEquals(1.0, sum, 1e-4, "all 10 classes' probabilities");
    assertEquals("no such file", byPath.get(tmp.resolve("missing.png").toString()).get("error").asText());
    assertTrue(byPath.get(big.toString()).get("error").asText()
        .contains("3221225472 bytes, more than the limit of 67108864 bytes"), byPath.get(big.toString()).toString());
    assertTrue(byPath.get(fifo.toString()).get("error").asText().contains("FIFO"), byPath.get(fifo.toString()).toString());
    assertTrue(byPath.get(tmp.resolve("images/broken.png").toString()).has("error"));
    // The directory without --recursive: a.png and broken.png, not sub/b.png.
    assertTrue(byPath.containsKey(tmp.resolve("images/a.png") + "#2"));
    assertTrue(!byPath.containsKey(images.resolve("b.png").toString()));

    Cli.Run text = Cli.run("predict", "--model", model.toString(), tmp.resolve("missing.png").toString());
    assertEquals(1, text.code());
    assertTrue(text.err().contains("error: no such file: " + tmp.resolve("missing.png")), text.err());
    Cli.Run zero = Cli.run("predict", "--model", model.toString(), "--top", "0",
        tmp.resolve("images/a.png").toString());
    assertEquals(2, zero.code());
    assertTrue(zero.err().contains("--top 0: must be at least 1"), zero.err());
  }
}
