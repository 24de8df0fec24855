package org.nfnet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issues 14/17: fine-tuning weights are validated like {@code convert} before anything is written,
 * a start that fails later leaves no half run, and the header says what was loaded,
 * re-initialised and frozen.
 */
class FineTuneCliTest {
  @TempDir Path tmp;

  private static Path t0Weights() {
    Path f = Path.of(System.getProperty("nfnet.shared.dir", "../../shared"),
        "fixtures/nfnet_t0/t0_seed31_p3.pkl");
    Assumptions.assumeTrue(Files.isRegularFile(f), "needs the T0 fixture in ../shared");
    return f;
  }

  private static String t0Variant() {
    return Path.of("..", "variants", "t0.json").toAbsolutePath().normalize().toString();
  }

  @Test
  void weightsThatDoNotFitTheVariantAreRefusedBeforeTheRunDirectoryIsWritten() {
    Path out = tmp.resolve("run");
    Cli.Run r = Cli.run("train", "--variant", Cli.nano(), "--data", "fashion-mnist-subset",
        "--steps", "2", "--finetune", t0Weights().toString(), "--out", out.toString());
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().contains("does not match NFNet variant nano"), r.err());
    assertFalse(Files.exists(out), "no half run");
  }

  /** Writes {@code params} as a Haiku-keyed numpy .npz (float32), with a NaN in the first array. */
  private static void npzWithNaN(org.nfnet.converters.HaikuParams params, Path out) throws Exception {
    try (var zip = new java.util.zip.ZipOutputStream(Files.newOutputStream(out))) {
      boolean first = true;
      for (org.nfnet.converters.ParamArray a : params.arrays()) {
        float[] v = a.toFloatArray();
        if (first) {
          v[0] = Float.NaN;
          first = false;
        }
        StringBuilder shape = new StringBuilder("(");
        for (long d : a.shape()) {
          shape.append(d).append(a.shape().length == 1 ? "," : ", ");
        }
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': "
            + shape.toString().replaceAll(", $", "") + "), }";
        int total = 10 + dict.length() + 1;
        String header = dict + " ".repeat((64 - total % 64) % 64) + "\n";
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(10 + header.length() + 4 * v.length)
            .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
            .put((byte) 1).put((byte) 0).putShort((short) header.length())
            .put(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        for (float f : v) {
          b.putFloat(f);
        }
        zip.putNextEntry(new java.util.zip.ZipEntry(a.haikuKey() + ".npy"));
        zip.write(b.array());
        zip.closeEntry();
      }
    }
  }

  @Test
  void nonFiniteWeightsAreRefusedAsConvertRefusesThem() throws Exception {
    Path bad = tmp.resolve("t0_nan.npz");
    try (var hp = org.nfnet.converters.WeightFileReader.read(t0Weights())) {
      npzWithNaN(hp, bad);
    }
    Path out = tmp.resolve("nan-run");
    Cli.Run r = Cli.run("train", "--variant", t0Variant(), "--data", "fashion-mnist-subset",
        "--res", "32", "--steps", "2", "--finetune", bad.toString(), "--out", out.toString());
    assertEquals(2, r.code(), r.all());
    assertTrue(r.err().contains("contains 1 NaN and 0 infinite value(s)"), r.err());
    assertFalse(Files.exists(out), "no half run");
  }

  @Test
  void headerSaysWhatIsLoadedReinitialisedAndFrozen() {
    Path out = tmp.resolve("ft");
    Cli.Run r = Cli.run("train", "--variant", t0Variant(), "--data", "fashion-mnist-subset",
        "--res", "32", "--steps", "2", "--batch", "8", "--finetune", t0Weights().toString(),
        "--freeze-stages", "1", "--out", out.toString(), "--no-export");
    assertEquals(0, r.code(), r.all());
    assertTrue(r.out().matches("(?s).*\nfinetune loaded \\d+ arrays \\([\\d,]+ parameters\\) from "
        + "\\S+t0_seed31_p3.pkl; re-initialised: classifier NFNet/~/linear \\(10 classes, "
        + "N\\(0, 0.01\\)\\); frozen: stem \\+ stage 1 \\([\\d,]+ parameters\\)\n.*"), r.out());
  }

  @Test
  void aStartThatFailsAfterWritingLeavesNoHalfRun() throws Exception {
    Path parent = Files.createDirectories(tmp.resolve("mine"));
    Files.writeString(parent.resolve("notes.txt"), "user file");
    // A directory where metrics.csv goes: the start fails once the graph is built.
    Files.createDirectories(parent.resolve("metrics.csv"));
    Cli.Run r = Cli.run("train", "--variant", Cli.nano(), "--data", "fashion-mnist-subset",
        "--steps", "2", "--batch", "8", "--out", parent.toString());
    assertTrue(r.code() != 0, r.all());
    assertFalse(Files.exists(parent.resolve("run.json")), "run.json removed");
    assertFalse(Files.exists(parent.resolve("checkpoints")), "checkpoints/ removed");
    assertFalse(Files.exists(parent.resolve("tensorboard")), "tensorboard/ removed");
    assertFalse(Files.exists(parent.resolve("variant.json")));
    assertEquals("user file", Files.readString(parent.resolve("notes.txt")), "the user's files stay");
    assertTrue(Files.isDirectory(parent.resolve("metrics.csv")), "what was there stays");
  }
}
