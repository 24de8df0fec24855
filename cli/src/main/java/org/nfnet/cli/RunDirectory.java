package org.nfnet.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.nfnet.training.LearningRateSchedule;
import org.nfnet.training.StretchedSchedule;

/**
 * A training run's directory: {@code run.json} (the settings, so {@code --resume} restores them
 * from any working directory), {@code variant.json} (a copy of a custom variant file), checkpoints,
 * TensorBoard logs, metrics and the export.
 *
 * <p>{@code run.json} also records the schedule: {@code "schedule": [{"from": 0, "steps": 30},
 * {"from": 20, "steps": 60}]} means the run was planned for 30 steps and, resumed at step 20,
 * stretched to 60 (see {@link StretchedSchedule}); {@code "resumes"} lists every resume with the
 * options it changed.
 *
 * <p>A fresh start that fails before its first checkpoint is {@linkplain #abandon() abandoned}:
 * the files this start created are removed again, nothing else.
 */
final class RunDirectory {
  static final String RUN_JSON = "run.json";
  static final String VARIANT_JSON = "variant.json";
  /** What a fresh start may create; {@link #abandon} removes only these. */
  private static final List<String> OUTPUTS = List.of(RUN_JSON, VARIANT_JSON, "tensorboard",
      "checkpoints", MetricsLog.STEPS_FILE, MetricsLog.EVALS_FILE, "curves.png");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path dir;
  private final boolean createdDir;
  /** Outputs that existed before this start (never removed by {@link #abandon}). */
  private final java.util.Set<String> preexisting = new java.util.HashSet<>();

  private RunDirectory(Path dir, boolean createdDir) {
    this.dir = dir;
    this.createdDir = createdDir;
    for (String name : OUTPUTS) {
      if (Files.exists(dir.resolve(name), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        preexisting.add(name);
      }
    }
  }

  Path dir() {
    return dir;
  }

  /** The saved settings of the run in {@code dir}; a missing or malformed file names itself. */
  static ObjectNode read(Path dir) {
    Path f = dir.resolve(RUN_JSON);
    if (!Files.isRegularFile(f)) {
      throw new UserException("--resume " + dir + ": no " + RUN_JSON + " (not a run directory)");
    }
    try {
      if (!(JSON.readTree(f.toFile()) instanceof ObjectNode n)) {
        throw new UserException(f + ": not a JSON object (a malformed run file)");
      }
      return n;
    } catch (JsonProcessingException e) {
      throw new UserException(f + ": malformed run file: " + e.getOriginalMessage()
          + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")"));
    } catch (IOException e) {
      throw new UserException("cannot read " + f + ": " + e.getMessage(), e);
    }
  }

  /**
   * Starts a fresh run: creates {@code dir}, copies a custom variant file into it (so the run does
   * not depend on the working directory) and writes {@code settings} (whose {@code variant} is
   * rewritten to the copy) as run.json.
   */
  static RunDirectory create(Path dir, ObjectNode settings, long steps) throws IOException {
    for (String sub : List.of("tensorboard", "checkpoints")) {
      if (Files.exists(dir.resolve(sub)) && !Files.isDirectory(dir.resolve(sub))) {
        throw new UserException(dir.resolve(sub) + " exists and is not a directory; choose another --out");
      }
    }
    if (Files.exists(dir) && !Files.isWritable(dir)) {
      throw new UserException("--out " + dir + ": not writable");
    }
    boolean created = !Files.exists(dir);
    Files.createDirectories(dir);
    RunDirectory run = new RunDirectory(dir, created);
    String variant = settings.path("variant").asText();
    if (variant.toLowerCase(java.util.Locale.ROOT).endsWith(".json")) {
      Path src = Path.of(variant);
      Path copy = dir.resolve(VARIANT_JSON);
      if (!Files.exists(copy) || !Files.isSameFile(src, copy)) {
        Path tmp = dir.resolve(VARIANT_JSON + ".tmp");
        Files.copy(src, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, copy, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      }
      settings.put("variant", VARIANT_JSON);
    }
    ArrayNode schedule = settings.putArray("schedule");
    schedule.addObject().put("from", 0).put("steps", steps);
    settings.putArray("resumes");
    run.write(settings);
    return run;
  }

  /** The run directory of a resume (nothing is created or removed). */
  static RunDirectory existing(Path dir) {
    return new RunDirectory(dir, false);
  }

  /** The variant a run uses: its own copy when it has one, else the saved name. */
  static String variant(Path dir, String saved) {
    return saved.equals(VARIANT_JSON) ? dir.resolve(VARIANT_JSON).toString() : saved;
  }

  /**
   * The run's learning-rate schedule from {@code step} on: {@code base} with the stretches saved up
   * to that step, plus one to {@code target} when that differs from the length then in force.
   */
  static LearningRateSchedule schedule(LearningRateSchedule.WarmupCosineDecay base, ObjectNode settings, long step,
      long target) {
    List<StretchedSchedule.Stretch> s = stretches(settings, step, target);
    return s.isEmpty() ? base : new StretchedSchedule(base, s);
  }

  /**
   * The schedule changes of a run resumed at {@code step}: saved stretches made at or before it,
   * plus one to {@code target} when that differs from the run's length at that step.
   */
  static List<StretchedSchedule.Stretch> stretches(ObjectNode settings, long step, long target) {
    List<StretchedSchedule.Stretch> out = new ArrayList<>();
    var schedule = settings.path("schedule");
    for (int i = 1; i < schedule.size(); i++) {
      long from = schedule.get(i).path("from").asLong();
      if (from <= step) {
        out.add(new StretchedSchedule.Stretch(from, schedule.get(i).path("steps").asLong()));
      }
    }
    if (target != totalAt(settings, step)) {
      out.add(new StretchedSchedule.Stretch(step, target));
    }
    return out;
  }

  /** The run's length in force at {@code step}: its last stretch made by then, else as planned. */
  static long totalAt(ObjectNode settings, long step) {
    long total = plannedSteps(settings);
    var schedule = settings.path("schedule");
    for (int i = 1; i < schedule.size(); i++) {
      if (schedule.get(i).path("from").asLong() <= step) {
        total = schedule.get(i).path("steps").asLong();
      }
    }
    return total;
  }

  /** The run's originally planned length (the base schedule's). */
  static long plannedSteps(ObjectNode settings) {
    var schedule = settings.path("schedule");
    return schedule.size() > 0 ? schedule.get(0).path("steps").asLong()
        : settings.path("steps").asLong();
  }

  /** Records a resume at {@code step} to {@code target} steps with the options it changed. */
  void recordResume(ObjectNode settings, long step, long target, ObjectNode changed)
      throws IOException {
    List<StretchedSchedule.Stretch> kept = stretches(settings, step, target);
    ArrayNode schedule = settings.withArray("schedule");
    long planned = plannedSteps(settings);
    schedule.removeAll();
    schedule.addObject().put("from", 0).put("steps", planned);
    for (StretchedSchedule.Stretch s : kept) {
      schedule.addObject().put("from", s.from()).put("steps", s.total());
    }
    settings.put("steps", target);
    settings.remove("epochs");
    ObjectNode r = settings.withArray("resumes").addObject();
    r.put("at_step", step).put("steps", target).put("at", java.time.Instant.now().toString());
    r.set("changed", changed);
    write(settings);
  }

  void write(ObjectNode settings) throws IOException {
    Path tmp = dir.resolve(RUN_JSON + ".tmp");
    JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), settings);
    Files.move(tmp, dir.resolve(RUN_JSON), StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * Undoes a fresh start that failed before writing a checkpoint: removes the outputs it created
   * (and the directory itself if this start created it and it is now empty); files that were
   * there before are left alone.
   */
  void abandon() {
    try {
      for (String name : OUTPUTS) {
        if (!preexisting.contains(name)) {
          deleteRecursively(dir.resolve(name));
        }
      }
      if (createdDir) {
        try (Stream<Path> s = Files.list(dir)) {
          if (s.findAny().isEmpty()) {
            Files.delete(dir);
          }
        }
      }
    } catch (IOException e) {
      System.err.println("warning: could not remove the failed start's files in " + dir + ": "
          + e.getMessage());
    }
  }

  /** Whether {@code dir} holds any checkpoint directory. */
  static boolean hasCheckpoint(Path dir) {
    Path c = dir.resolve("checkpoints");
    if (!Files.isDirectory(c)) {
      return false;
    }
    try (Stream<Path> s = Files.list(c)) {
      return s.anyMatch(p -> p.getFileName().toString().startsWith("ckpt-"));
    } catch (IOException e) {
      return true; // unsure: keep everything
    }
  }

  private static void deleteRecursively(Path p) throws IOException {
    if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }
}
