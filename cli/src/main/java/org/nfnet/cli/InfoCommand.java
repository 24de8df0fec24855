package org.nfnet.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.nfnet.zoo.BlockSpec;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.VariantJson;
import org.nfnet.zoo.Variants;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code nfnet info}: size, cost and shape of a variant, from its config alone (no weights). */
@Command(name = "info", mixinStandardHelpOptions = true,
    description = "Parameter count, GMACs and per-stage output shapes of a variant.")
final class InfoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--variant", defaultValue = "F0",
      description = "F0..F7, F0+..F7+, or a variant .json file (default: ${DEFAULT-VALUE}).")
  String variant;

  @Option(names = "--res", description = "Input resolution (default: the variant's test size).")
  Integer res;

  @Option(names = "--num-classes", description = "Classifier size (default: the variant's, 1000).")
  Integer numClasses;

  @Option(names = "--all", description = "One summary line for every named variant and every "
      + "variant file in variants/.")
  boolean all;

  @Option(names = "--blocks", description = "Also list every block.")
  boolean blocks;

  private static void summary(PrintWriter out, String name, NFNetConfig c) {
    out.printf("%-10s %,14d %10s %10.2f %9s%n", name, NFNetStructure.parameterCount(c),
        c.trainImsize() + "/" + c.testImsize(),
        NFNetStructure.macs(c, c.testImsize(), c.testImsize()) / 1e9,
        java.util.Arrays.toString(c.depth()).replace(" ", ""));
  }

  /** variants/ of the working directory, else of the installation the launcher runs from. */
  static Path variantsDir() {
    Path here = Path.of("variants");
    if (Files.isDirectory(here)) {
      return here;
    }
    String home = System.getProperty("nfnet.home"); // set by the launcher
    Path there = home == null ? null : Path.of(home, "variants");
    return there != null && Files.isDirectory(there) ? there : null;
  }

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    if (all) {
      out.printf("%-10s %14s %10s %10s %9s%n", "name", "params", "train/test", "GMACs@test", "depth");
      for (NFNetConfig c : Variants.all().values()) {
        summary(out, c.name(), c);
      }
      Path dir = variantsDir();
      if (dir != null) {
        out.printf("variant files in %s (use as --variant FILE.json):%n", dir);
        try (var files = Files.list(dir)) {
          for (Path f : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
            try {
              summary(out, dir.relativize(f).toString(), VariantJson.load(f));
            } catch (IllegalArgumentException e) {
              out.printf("%-10s invalid: %s%n", f.getFileName(), e.getMessage());
            }
          }
        } catch (java.io.IOException e) {
          out.printf("cannot list %s: %s%n", dir, e.getMessage());
        }
      }
      return 0;
    }
    NFNetConfig c = NFNetConfig.resolve(variant);
    if (numClasses != null) {
      c = c.withNumClasses(numClasses);
    }
    int r = res != null ? res : c.testImsize();
    NFNetStructure.checkInputSize(c, r, r);
    long params = NFNetStructure.parameterCount(c);
    out.printf("variant      %s%n", c.name());
    out.printf("width        %s%n", java.util.Arrays.toString(c.width()));
    out.printf("depth        %s (%d blocks)%n", java.util.Arrays.toString(c.depth()), c.numBlocks());
    out.printf("group width  %s%n", java.util.Arrays.toString(c.groupWidth()));
    out.printf("train/test   %d / %d px, drop rate %.2f, activation %s%n", c.trainImsize(),
        c.testImsize(), c.dropRate(), c.activation().key());
    out.printf("parameters   %,d (%d arrays, %.1f MB as float32)%n", params,
        NFNetStructure.parameters(c).size(), params * 4 / 1e6);
    double macs = NFNetStructure.macs(c, r, r);
    out.printf("GMACs        %.2f at %dx%d (DeepMind's count_flops rule; %.2f GFLOP)%n",
        macs / 1e9, r, r, 2 * macs / 1e9);
    out.println("output shapes (H x W x C):");
    String[] names = {"stem", "stage 1", "stage 2", "stage 3", "stage 4", "final conv"};
    List<int[]> shapes = NFNetStructure.stageShapes(c, r, r);
    for (int i = 0; i < shapes.size(); i++) {
      int[] s = shapes.get(i);
      out.printf("  %-11s %4d x %-4d x %5d%n", names[i], s[0], s[1], s[2]);
    }
    out.printf("  %-11s %d (logits), pooled features %d%n", "head", c.numClasses(), c.finalChannels());
    if (blocks) {
      out.println("blocks:");
      for (BlockSpec b : NFNetStructure.blocks(c)) {
        out.printf("  %-12s stage %d  %4d -> %4d  bottleneck %4d (%2d groups)  stride %d  beta %.4f  "
                + "stochdepth %.4f%n", b.module().substring(b.module().lastIndexOf('/') + 1),
            b.stage() + 1, b.inChannels(), b.outChannels(), b.width(), b.groups(), b.stride(),
            b.beta(), b.stochDepthRate());
      }
    }
    return 0;
  }
}
