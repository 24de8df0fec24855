package org.nfnet.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Training checkpoints: TF's own checkpoint format ({@code Session.save}: every VariableV2, i.e.
 * parameters, momentum slots, EMA and the global step) in directories {@code ckpt-0000001234}.
 *
 * <p>Atomicity: a checkpoint is written into a hidden temporary directory, its metadata file
 * ({@code checkpoint.json}) is written and fsynced last, and the directory is then renamed into
 * place. A crash (even {@code kill -9}) at any point leaves either no new checkpoint or a complete
 * one; the previous checkpoints are untouched, and leftover temporaries are ignored and cleaned.
 */
public final class Checkpoints {
  public static final String META = "checkpoint.json";
  public static final String VARIABLES = "variables";
  private static final String PREFIX = "ckpt-";
  private static final String TMP_PREFIX = ".tmp-ckpt-";

  private final Path dir;
  private final int keep;

  /**
   * Runs between writing a checkpoint's variables and publishing it (the crash test pauses here to
   * kill the process mid-save).
   */
  static volatile Runnable beforePublish = () -> { };

  /** @param keep how many most recent checkpoints to keep (at least 1) */
  public Checkpoints(Path dir, int keep) {
    this.dir = dir;
    this.keep = Math.max(1, keep);
  }

  public Path dir() {
    return dir;
  }

  /** What a checkpoint holds besides the variables. */
  public record Meta(long step, String variant, int numClasses, long savedAtMillis) {}

  /** Saves the session's variables at global step {@code step}; returns the checkpoint dir. */
  public Path save(TrainStep trainStep, long step) {
    try {
      Files.createDirectories(dir);
      Path tmp = dir.resolve(TMP_PREFIX + step + "-" + System.nanoTime());
      Files.createDirectories(tmp);
      trainStep.session().save(tmp.resolve(VARIABLES).toString());
      beforePublish.run();
      ObjectNode meta = new ObjectMapper().createObjectNode();
      meta.put("step", step);
      meta.put("variant", trainStep.model().name());
      meta.put("num_classes", trainStep.model().numClasses());
      meta.put("saved_at_millis", System.currentTimeMillis());
      Path metaFile = tmp.resolve(META);
      Files.write(metaFile, new ObjectMapper().writerWithDefaultPrettyPrinter()
          .writeValueAsBytes(meta));
      try (Stream<Path> files = Files.list(tmp)) {
        for (Path f : files.toList()) {
          fsync(f);
        }
      }
      Path target = dir.resolve(String.format("%s%010d", PREFIX, step));
      if (Files.exists(target)) {
        deleteRecursively(target); // re-saving the same step (e.g. interrupt right after a save)
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      prune();
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException("saving checkpoint at step " + step + " in " + dir, e);
    }
  }

  /** Restores every variable of the step's graph from {@code checkpoint}. */
  public static void restore(TrainStep trainStep, Path checkpoint) {
    trainStep.session().restore(checkpoint.resolve(VARIABLES).toString());
  }

  /** Complete checkpoints, oldest first. */
  public List<Path> list() {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().startsWith(PREFIX))
          .filter(p -> Files.isRegularFile(p.resolve(META)))
          .sorted(Comparator.comparing(p -> p.getFileName().toString()))
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Optional<Path> latest() {
    List<Path> all = list();
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
  }

  public static Meta meta(Path checkpoint) {
    try {
      JsonNode n = new ObjectMapper().readTree(checkpoint.resolve(META).toFile());
      return new Meta(n.get("step").asLong(), n.path("variant").asText(""),
          n.path("num_classes").asInt(-1), n.path("saved_at_millis").asLong(0));
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + checkpoint.resolve(META), e);
    }
  }

  /** Removes temporaries left by an interrupted save. */
  public void cleanTemporaries() {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.filter(p -> p.getFileName().toString().startsWith(TMP_PREFIX)).toList()) {
        deleteRecursively(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void prune() throws IOException {
    List<Path> all = new ArrayList<>(list());
    while (all.size() > keep) {
      deleteRecursively(all.remove(0));
    }
  }

  private static void fsync(Path f) throws IOException {
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  static void deleteRecursively(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }
}
