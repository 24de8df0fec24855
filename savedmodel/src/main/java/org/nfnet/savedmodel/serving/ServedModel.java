package org.nfnet.savedmodel.serving;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.nfnet.savedmodel.ImageDecoder;
import org.nfnet.savedmodel.NFNetModel;
import org.tensorflow.proto.ConfigProto;

/**
 * The loaded versions of one model, laid out as TF Serving expects: a base directory with
 * numbered version subdirectories ({@code models/nfnet_f0/1}, {@code /2}). As TF Serving's default
 * version policy does, only the highest version is loaded unless all are asked for; a directory
 * that is itself a SavedModel is served as one version (its number if its name is one, else 1).
 * With {@link Policy#ALL}, a version that fails to load is reported (state END with its error)
 * while the others serve; loading fails only when no version loads.
 */
public final class ServedModel implements AutoCloseable {
  /** Which versions to load (TF Serving's {@code model_version_policy}). */
  public enum Policy { LATEST, ALL }

  private final String name;
  private final NavigableMap<Long, NFNetModel> versions;
  private final NavigableMap<Long, String> failed;
  private final boolean owned;

  private ServedModel(String name, NavigableMap<Long, NFNetModel> versions, NavigableMap<Long, String> failed,
      boolean owned) {
    this.name = name;
    this.versions = Collections.unmodifiableNavigableMap(versions);
    this.failed = Collections.unmodifiableNavigableMap(failed);
    this.owned = owned;
  }

  /** Serves an already loaded model as version 1; closing this does not close it. */
  public static ServedModel of(String name, NFNetModel model) {
    TreeMap<Long, NFNetModel> m = new TreeMap<>();
    m.put(1L, model);
    return new ServedModel(name, m, new TreeMap<>(), false);
  }

  /**
   * Loads a model base directory (numbered versions) or a single SavedModel directory.
   *
   * @throws IOException naming the directory when there is nothing to serve or a version fails
   */
  public static ServedModel load(String name, Path dir, Policy policy, ConfigProto config,
      ImageDecoder.Limits limits) throws IOException {
    return load(name, dir, policy, new NFNetModel.Options(config, limits, false));
  }

  /**
   * Loads a model base directory (numbered versions) or a single SavedModel directory, each
   * version with {@code options} (a variables export is frozen at load when the options ask for it).
   *
   * @throws IOException naming the directory when there is nothing to serve or a version fails
   */
  public static ServedModel load(String name, Path dir, Policy policy, NFNetModel.Options options)
      throws IOException {
    Path d = dir.toAbsolutePath().normalize();
    if (!Files.isDirectory(d)) {
      throw new IOException("model directory " + d + " does not exist or is not a directory");
    }
    TreeMap<Long, Path> found = new TreeMap<>();
    if (Files.isRegularFile(d.resolve("saved_model.pb"))) {
      Long n = number(d.getFileName() == null ? "" : d.getFileName().toString());
      found.put(n == null ? 1L : n, d);
    } else {
      try (Stream<Path> s = Files.list(d)) {
        for (Path p : (Iterable<Path>) s::iterator) {
          Long n = number(p.getFileName().toString());
          if (n != null && Files.isDirectory(p)) {
            found.put(n, p);
          }
        }
      }
      if (found.isEmpty()) {
        throw new IOException("nothing to serve in " + d + ": neither a SavedModel (saved_model.pb)"
            + " nor a base directory with numbered versions (" + d.resolve("1") + "/saved_model.pb)");
      }
    }
    List<Long> load = policy == Policy.ALL ? new ArrayList<>(found.keySet())
        : List.of(found.lastKey());
    TreeMap<Long, NFNetModel> loaded = new TreeMap<>();
    TreeMap<Long, String> failed = new TreeMap<>();
    IOException first = null;
    try {
      for (long v : load) {
        try {
          loaded.put(v, NFNetModel.load(found.get(v), options));
        } catch (IOException | RuntimeException e) {
          failed.put(v, String.valueOf(e.getMessage()));
          if (first == null) {
            first = new IOException("version " + v + " of model '" + name + "': " + e.getMessage(), e);
          }
        }
      }
    } catch (Error e) {
      loaded.values().forEach(NFNetModel::close);
      throw e;
    }
    if (loaded.isEmpty()) {
      throw first;
    }
    return new ServedModel(name, loaded, failed, true);
  }

  private static Long number(String s) {
    if (s.isEmpty() || s.length() > 18 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return null;
    }
    return Long.parseLong(s);
  }

  public String name() {
    return name;
  }

  /** Loaded versions, ascending. */
  public NavigableMap<Long, NFNetModel> versions() {
    return versions;
  }

  /** Versions that failed to load, with the reason (only with {@link Policy#ALL}). */
  public NavigableMap<Long, String> failedVersions() {
    return failed;
  }

  public long latestVersion() {
    return versions.lastKey();
  }

  @Override
  public void close() {
    if (owned) {
      versions.values().forEach(NFNetModel::close);
    }
  }
}
