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
 * Training checkpoints: TF's checkpoint format ({@code SaveV2} through the step's
 * {@link TrainStep#saver()}: every variable, i.e. parameters, momentum slots, EMA and the global
 * step, keyed by variable name) as {@code variables.index}/{@code variables.data-*} in directories
 * {@code ckpt-0000001234}. The keys are those the earlier {@code VariableV2} step wrote with
 * {@code Session.save}, so its checkpoints restore unchanged.
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
      try {
        trainStep.saver().save(trainStep.session(), tmp.resolve(VARIABLES).toString());
      } catch (RuntimeException e) {
        deleteRecursively(tmp);
        throw new IOException(writeFailure(e), e);
      }
      beforePublish.run();
      ObjectNode meta = new ObjectMapper().createObjectNode();
      meta.put("step", step);
      meta.put("variant", trainStep.model().name());
      meta.put("num_classes", trainStep.model().numClasses());
      meta.put("saved_at_millis", System.currentTimeMillis());
      // File sizes let a resume recognise a truncated or partly deleted checkpoint cheaply.
      ObjectNode sizes = meta.putObject("files");
      try (Stream<Path> files = Files.list(tmp)) {
        for (Path f : files.sorted().toList()) {
          sizes.put(f.getFileName().toString(), Files.size(f));
        }
      }
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
      throw new UncheckedIOException("saving checkpoint at step " + step + " in " + dir + ": "
          + e.getMessage(), e);
    }
  }

  /**
   * The reason of a failed TF save, without TF's generic hints (a full disk is reported by TF as
   * a resource-exhausted error whose hint is about GPU memory, which would mislead).
   */
  static String writeFailure(RuntimeException e) {
    String m = String.valueOf(e.getMessage());
    if (m.toLowerCase(java.util.Locale.ROOT).contains("no space left on device")) {
      return "no space left on device (free space, then continue with --resume)";
    }
    return m.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("Hint:"))
        .collect(java.util.stream.Collectors.joining(" "));
  }

  /** Restores every variable of the step's graph from {@code checkpoint}. */
  public static void restore(TrainStep trainStep, Path checkpoint) {
    try {
      trainStep.saver().restore(trainStep.session(), checkpoint.resolve(VARIABLES).toString());
    } catch (RuntimeException e) {
      throw new IllegalStateException("cannot restore checkpoint " + checkpoint + ": "
          + e.getMessage(), e);
    }
  }

  /**
   * The checkpoint a resume starts from: the newest one whose files are all present with the
   * sizes recorded when it was saved ({@code skipped} says why newer ones were passed over).
   */
  public record Selection(Optional<Path> checkpoint, List<String> skipped) {}

  /** Picks the newest intact checkpoint; see {@link Selection}. */
  public Selection newestIntact() {
    List<Path> all = new ArrayList<>(candidates());
    List<String> skipped = new ArrayList<>();
    for (int i = all.size() - 1; i >= 0; i--) {
      String problem = problem(all.get(i));
      if (problem == null) {
        return new Selection(Optional.of(all.get(i)), skipped);
      }
      skipped.add(all.get(i) + ": " + problem);
    }
    return new Selection(Optional.empty(), skipped);
  }

  /** Why {@code checkpoint} cannot be restored, or null if it looks complete. */
  static String problem(Path checkpoint) {
    Path metaFile = checkpoint.resolve(META);
    if (!Files.isRegularFile(metaFile)) {
      return "no " + META;
    }
    JsonNode n;
    try {
      n = new ObjectMapper().readTree(metaFile.toFile());
    } catch (IOException e) {
      return META + " unreadable (" + e.getMessage() + ")";
    }
    if (n == null || !n.path("step").canConvertToLong()) {
      return META + " has no step";
    }
    try {
      if (n.has("files")) {
        for (var it = n.get("files").fields(); it.hasNext(); ) {
          var e = it.next();
          Path f = checkpoint.resolve(e.getKey());
          if (!Files.isRegularFile(f)) {
            return e.getKey() + " is missing";
          }
          if (Files.size(f) != e.getValue().asLong()) {
            return e.getKey() + " has " + Files.size(f) + " bytes, " + e.getValue().asLong()
                + " were saved (truncated)";
          }
        }
        return null;
      }
      // Checkpoints written before sizes were recorded: the index and a data shard must exist.
      if (!Files.isRegularFile(checkpoint.resolve(VARIABLES + ".index"))) {
        return VARIABLES + ".index is missing";
      }
      try (Stream<Path> s = Files.list(checkpoint)) {
        if (s.noneMatch(f -> f.getFileName().toString().startsWith(VARIABLES + ".data-"))) {
          return "no " + VARIABLES + ".data-* file";
        }
      }
      return null;
    } catch (IOException e) {
      return e.getMessage();
    }
  }

  /** Checkpoint directories by name (complete or not), oldest first. */
  private List<Path> candidates() {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().startsWith(PREFIX))
          .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
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
