package org.nfnet.savedmodel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The output directory of an export: written as a hidden temporary sibling
 * {@code .NAME.tmp-<uuid>} and renamed into place at the end, so nothing half-written ever carries
 * the target's name, and a user's files are never deleted.
 *
 * <ul>
 *   <li>An existing target is only replaced with {@code force}, and only if it is recognisably an
 *       export of this tool (a SavedModel with our {@code model_card.json}) or an empty directory.
 *       Replacing moves the old export aside ({@code .NAME.old-<uuid>}), renames the new one into
 *       place and only then deletes the old one.</li>
 *   <li>Without {@code force} the final rename fails if the target appeared meanwhile (e.g. a
 *       concurrent export to the same directory); the new export is discarded, the other kept.</li>
 *   <li>Each temporary directory has an owner file beside it ({@code .NAME.tmp-<uuid>.owner}: PID
 *       and start time of the writing process), created before the directory. A later export into
 *       the same parent removes temporaries whose owner process is gone (killed, power loss), and
 *       restores an old export that was moved aside but never replaced.</li>
 * </ul>
 *
 * <p>Process-wide signal handling is left to applications ({@link #abandonOwnTemporaries} is
 * what a CLI's shutdown hook calls).
 */
public final class ExportDirectory {
  private static final String OWNER_SUFFIX = ".owner";
  private static final Pattern TEMP = Pattern.compile(
      "\\.(.+)\\.(tmp|old)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  private static final long MAX_CARD_BYTES = 1 << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path target;
  private final boolean force;
  private final Path temp;
  private final Path owner;
  private boolean committed;

  private ExportDirectory(Path target, boolean force, Path temp, Path owner) {
    this.target = target;
    this.force = force;
    this.temp = temp;
    this.owner = owner;
  }

  /**
   * Checks, before any work is done, that {@code target} can be written: it does not exist, or
   * {@code force} is set and it is an export of this tool or an empty directory; and the directory
   * it will be created in is a writable directory (probed by creating and deleting a file there).
   *
   * @throws IOException naming the path and the reason ({@link FileAlreadyExistsException} for an
   *     existing target without force)
   */
  public static void check(Path target, boolean force) throws IOException {
    Path t = target.toAbsolutePath().normalize();
    if (Files.exists(t, LinkOption.NOFOLLOW_LINKS)) {
      if (!force) {
        throw new FileAlreadyExistsException(t.toString(), null,
            "already exists (use --force to replace an earlier export of this tool)");
      }
      refuseUnlessReplaceable(t);
    }
    if (t.getParent() == null) {
      throw new FileSystemException(t.toString(), null, "cannot export to a file-system root");
    }
    Path existing = t.getParent();
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null || !Files.isDirectory(existing)) {
      throw new FileSystemException(t.toString(), null, "cannot be created: " + existing
          + " is not a directory");
    }
    try {
      Files.delete(Files.createTempFile(existing, ".nfnet-write-probe", ""));
    } catch (IOException e) {
      throw new FileSystemException(t.toString(), null, "cannot be created: directory " + existing
          + " is not writable (" + reason(e) + ")");
    }
  }

  /**
   * Starts an export into {@code target}: checks it ({@link #check}), removes stale temporaries of
   * dead processes beside it, and creates the temporary directory to write into.
   */
  public static ExportDirectory create(Path target, boolean force) throws IOException {
    Path t = target.toAbsolutePath().normalize();
    check(t, force);
    Files.createDirectories(t.getParent());
    removeStale(t.getParent());
    String id = UUID.randomUUID().toString();
    Path temp = t.getParent().resolve("." + t.getFileName() + ".tmp-" + id);
    Path owner = ownerOf(temp);
    writeOwner(owner, t);
    try {
      Files.createDirectory(temp);
    } catch (IOException e) {
      Files.deleteIfExists(owner);
      throw e;
    }
    return new ExportDirectory(t, force, temp, owner);
  }

  /** The directory to write the export into. */
  public Path temp() {
    return temp;
  }

  /** The final directory. */
  public Path target() {
    return target;
  }

  /** Renames the finished export into place (replacing an earlier export only with force). */
  public void commit() throws IOException {
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      if (!force) {
        throw appeared(null);
      }
      refuseUnlessReplaceable(target);
      Path old = target.getParent().resolve("." + target.getFileName() + ".old-" + UUID.randomUUID());
      Path oldOwner = ownerOf(old);
      writeOwner(oldOwner, target);
      Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
      try {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        Files.move(old, target, StandardCopyOption.ATOMIC_MOVE); // put the earlier export back
        Files.deleteIfExists(oldOwner);
        throw e;
      }
      committed = true;
      deleteRecursively(old);
      Files.deleteIfExists(oldOwner);
    } else {
      try {
        // rename(2): fails if a non-empty directory or a file took the name meanwhile
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (DirectoryNotEmptyException | FileAlreadyExistsException e) {
        throw appeared(e);
      } catch (FileSystemException e) {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
          throw appeared(e);
        }
        throw e;
      }
      committed = true;
    }
    Files.deleteIfExists(owner);
  }

  /** Removes the temporary directory unless committed (call in a finally block). */
  public void abort() {
    if (!committed) {
      try {
        deleteRecursively(temp);
        Files.deleteIfExists(owner);
      } catch (IOException | UncheckedIOException ignored) {
        // best effort while failing; a later export removes it as stale (its owner will be gone)
      }
    }
  }

  /**
   * Removes this process's unfinished exports beside {@code target} and restores an earlier export
   * moved aside for replacement. For an application's shutdown hook (SIGINT, SIGTERM).
   */
  public static void abandonOwnTemporaries(Path target) {
    Path parent = target.toAbsolutePath().normalize().getParent();
    if (parent != null && Files.isDirectory(parent)) {
      cleanUp(parent, true);
    }
  }

  /**
   * Removes temporaries beside exports in {@code parent} whose writing process is gone; returns the
   * removed (or restored) directories. Directories without an owner file are never touched.
   */
  public static List<Path> removeStale(Path parent) {
    return cleanUp(parent, false);
  }

  private static List<Path> cleanUp(Path parent, boolean ownToo) {
    List<Path> done = new ArrayList<>();
    List<Path> owners;
    try (Stream<Path> s = Files.list(parent)) {
      owners = s.filter(p -> p.getFileName().toString().endsWith(OWNER_SUFFIX)).toList();
    } catch (IOException e) {
      return done;
    }
    for (Path ownerFile : owners) {
      String n = ownerFile.getFileName().toString();
      Matcher m = TEMP.matcher(n.substring(0, n.length() - OWNER_SUFFIX.length()));
      if (!m.matches()) {
        continue;
      }
      Optional<Properties> props = readOwner(ownerFile);
      if (props.isEmpty()) {
        continue;
      }
      boolean own = String.valueOf(ProcessHandle.current().pid()).equals(props.get().getProperty("pid"));
      if (own ? !ownToo : isAlive(props.get())) {
        continue;
      }
      Path dir = parent.resolve(n.substring(0, n.length() - OWNER_SUFFIX.length()));
      Path target = parent.resolve(m.group(1));
      try {
        if (m.group(2).equals("old") && Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
            && !Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
          Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE); // the replacement never arrived
        } else {
          deleteRecursively(dir);
        }
        Files.deleteIfExists(ownerFile);
        done.add(dir);
      } catch (IOException | UncheckedIOException e) {
        // leave it; the next export tries again
      }
    }
    return done;
  }

  /** True if {@code dir} is an export written by this tool (SavedModel + our model card). */
  public static boolean isExport(Path dir) {
    Path card = dir.resolve(ModelCard.JSON);
    try {
      if (!Files.isRegularFile(dir.resolve("saved_model.pb")) || !Files.isRegularFile(card)
          || Files.size(card) > MAX_CARD_BYTES) {
        return false;
      }
      JsonNode format = JSON.readTree(card.toFile()).get("format");
      return format != null && format.asText().startsWith("nfnet-savedmodel/");
    } catch (IOException e) {
      return false;
    }
  }

  private static void refuseUnlessReplaceable(Path t) throws IOException {
    if (Files.isSymbolicLink(t)) {
      throw new FileSystemException(t.toString(), null, "is a symbolic link; --force only replaces an "
          + "export directory of this tool or an empty directory, so it was left alone");
    }
    if (!Files.isDirectory(t)) {
      throw new FileSystemException(t.toString(), null, "is a file, not an export directory; --force "
          + "only replaces an export of this tool or an empty directory, so it was left alone");
    }
    if (isEmpty(t) || isExport(t)) {
      return;
    }
    throw new FileSystemException(t.toString(), null, "is not an export of this tool (no saved_model.pb"
        + " with a " + ModelCard.JSON + ") and not empty; --force only replaces an earlier export or an"
        + " empty directory, so nothing was deleted. Choose another --out");
  }

  private static boolean isEmpty(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.findAny().isEmpty();
    }
  }

  private FileAlreadyExistsException appeared(Exception cause) {
    FileAlreadyExistsException e = new FileAlreadyExistsException(target.toString(), null,
        "appeared while exporting (another export to the same directory?); it was not replaced and "
            + "this export was discarded (use --force to replace it)");
    if (cause != null) {
      e.initCause(cause);
    }
    return e;
  }

  private static Path ownerOf(Path dir) {
    return dir.resolveSibling(dir.getFileName() + OWNER_SUFFIX);
  }

  private static void writeOwner(Path owner, Path target) throws IOException {
    ProcessHandle self = ProcessHandle.current();
    String start = self.info().startInstant().map(Instant::toString).orElse("");
    Files.writeString(owner, "pid=" + self.pid() + "\nstart=" + start + "\ntarget=" + target.getFileName()
        + "\n");
  }

  private static Optional<Properties> readOwner(Path owner) {
    try {
      if (Files.size(owner) > 4096) {
        return Optional.empty();
      }
      Properties p = new Properties();
      p.load(new java.io.StringReader(Files.readString(owner)));
      return p.getProperty("pid") == null ? Optional.empty() : Optional.of(p);
    } catch (IOException | IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** Alive = a process with that PID exists and (if both are known) started when recorded. */
  private static boolean isAlive(Properties owner) {
    long pid;
    try {
      pid = Long.parseLong(owner.getProperty("pid"));
    } catch (NumberFormatException e) {
      return true; // not ours to judge: leave it
    }
    Optional<ProcessHandle> h = ProcessHandle.of(pid);
    if (h.isEmpty() || !h.get().isAlive()) {
      return false;
    }
    String recorded = owner.getProperty("start", "");
    Optional<Instant> actual = h.get().info().startInstant();
    return recorded.isEmpty() || actual.isEmpty() || actual.get().toString().equals(recorded);
  }

  private static String reason(IOException e) {
    String r = e.getClass().getSimpleName().replace("Exception", "");
    return e.getMessage() == null ? r : r + ": " + e.getMessage();
  }

  /** Deletes a directory tree without following symbolic links out of it. */
  static void deleteRecursively(Path p) {
    if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try {
      Files.walkFileTree(p, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.deleteIfExists(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
          Files.deleteIfExists(dir);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove " + p + ": " + e.getMessage(), e);
    }
  }
}
