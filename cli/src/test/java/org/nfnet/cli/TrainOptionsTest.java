package org.nfnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Issue 14: absurd training options, single-class and empty-class folders and malformed run files
 * are refused with a message naming the option / folder / file, before anything is written.
 */
class TrainOptionsTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "--lr|-1|--lr -1.0: must be > 0",
      "--lr|0|--lr 0.0: must be > 0",
      "--weight-decay|-1|--weight-decay -1.0: must be >= 0",
      "--warmup-epochs|-1|--warmup-epochs -1.0: must be >= 0",
      "--clipping|-1|--clipping -1.0: must be >= 0",
      "--steps|0|--steps 0: must be at least 1",
      "--steps|-1|--steps -1: must be at least 1",
      "--epochs|0|--epochs 0.0: must be > 0",
      "--epochs|-1|--epochs -1.0: must be > 0",
      "--batch|0|--batch 0: must be at least 1",
      "--ema-decay|1|--ema-decay 1.0: must be in [0, 1)",
      "--freeze-stages|7|--freeze-stages 7 needs --finetune"})
  void absurdOptionIsRejectedNamingIt(String option, String value, String message) {
    Path out = tmp.resolve("run");
    List<String> args = new ArrayList<>(List.of("train", "--variant", Cli.nano(), "--data",
        "fashion-mnist-subset", "--out", out.toString()));
    if (!option.equals("--steps") && !option.equals("--epochs")) {
      args.addAll(List.of("--steps", "5"));
    }
    args.addAll(List.of(option, value));
    Cli.Run r = Cli.run(args.toArray(String[]::new));
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().contains(message), r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    assertFalse(Files.exists(out), "nothing written for a refused start");
  }

  private static void png(Path file) throws Exception {
    Files.createDirectories(file.getParent());
    ImageIO.write(new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB), "png", file.toFile());
  }

  @Test
  void singleClassAndEmptyClassFoldersAreRefused() throws Exception {
    Path one = tmp.resolve("one");
    png(one.resolve("cat/a.png"));
    Cli.Run r = Cli.run("train", "--variant", Cli.nano(), "--data", one.toString(), "--steps", "2",
        "--out", tmp.resolve("r1").toString());
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().contains("single class folder ([cat])"), r.err());

    Path two = tmp.resolve("two");
    png(two.resolve("cat/a.png"));
    png(two.resolve("dog/b.png"));
    Files.createDirectories(two.resolve("empty"));
    r = Cli.run("train", "--variant", Cli.nano(), "--data", two.toString(), "--steps", "2",
        "--out", tmp.resolve("r2").toString());
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().contains("class folder(s) [empty] have no usable images"), r.err());
    assertFalse(Files.exists(tmp.resolve("r2")));
  }

  @Test
  void malformedRunJsonNamesTheFile() throws Exception {
    Path run = tmp.resolve("run");
    Files.createDirectories(run);
    Files.writeString(run.resolve("run.json"), "{\"variant\": \"F0\", \"batch\": ");
    Cli.Run r = Cli.run("train", "--resume", run.toString());
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().contains(run.resolve("run.json") + ": malformed run file"), r.err());
  }

  @Test
  void absurdVariantFileIsRefusedNamingTheField() throws Exception {
    Path v = tmp.resolve("huge.json");
    Files.writeString(v, "{\"width\":[32,64,128,128],\"depth\":[1000000,1,1,1],"
        + "\"train_imsize\":32,\"test_imsize\":32,\"drop_rate\":0.1}");
    Cli.Run r = Cli.run("train", "--variant", v.toString(), "--steps", "2", "--out",
        tmp.resolve("r").toString());
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().contains("'depth'[0] = 1000000 is out of range [1, 256]"), r.err());
    r = Cli.run("info", "--variant", v.toString());
    assertEquals(2, r.code(), r.all());
  }

  @Test
  void plotOfAMissingRunDirectoryFails() {
    Path png = tmp.resolve("p.png");
    Cli.Run r = Cli.run("plot", tmp.resolve("nope").toString(), "--out", png.toString());
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().contains("no such run directory: " + tmp.resolve("nope")), r.err());
    assertFalse(Files.exists(png));
  }

  @Test
  void infoAllListsTheVariantFiles() {
    System.setProperty("nfnet.home", Path.of("..").toAbsolutePath().normalize().toString());
    try {
      Cli.Run r = Cli.run("info", "--all");
      assertEquals(0, r.code(), r.all());
      assertTrue(r.out().contains("nano.json") && r.out().contains("t0.json"), r.out());
      assertTrue(r.out().contains("F7+"), r.out());
    } finally {
      System.clearProperty("nfnet.home");
    }
  }

  @Test
  void internalErrorsKeepTheirTraceUserErrorsDoNot() {
    assertTrue(Main.isBadInput(new UserException("x")));
    assertFalse(Main.isBadInput(new IllegalStateException("a bug")));
    assertFalse(Main.isBadInput(new org.tensorflow.exceptions.TFInvalidArgumentException("tf")));
    java.io.StringWriter w = new java.io.StringWriter();
    Main.reportInternalError(new IllegalStateException("a bug"), new java.io.PrintWriter(w));
    assertTrue(w.toString().startsWith("internal error: java.lang.IllegalStateException: a bug"), w.toString());
    String file = w.toString().replaceAll("(?s).*stack trace written to (\\S+).*", "$1");
    assertTrue(Files.isRegularFile(Path.of(file)), w.toString());
  }
}
