package org.nfnet.converters.download;

import java.nio.file.Path;
import java.util.Map;

/**
 * The download cache: {@code $NFNET_CACHE}, else {@code ~/.cache/nfnet}. Release files are kept as
 * {@code <cache>/F0_haiku.npz} (partial downloads as {@code F0_haiku.npz.part}, with the server's
 * ETag/Last-Modified in {@code F0_haiku.npz.part.validator}), converted models
 * as {@code <cache>/models/F0}.
 */
public final class WeightCache {
  /** Environment variable naming the cache directory. */
  public static final String ENV_DIR = "NFNET_CACHE";
  /** Suffix of a download in progress (resumed from by the next attempt). */
  public static final String PART = ".part";

  private final Path dir;

  public WeightCache(Path dir) {
    this.dir = dir.toAbsolutePath().normalize();
  }

  /** The cache the environment names ({@code $NFNET_CACHE} or {@code ~/.cache/nfnet}). */
  public static WeightCache fromEnvironment() {
    return new WeightCache(defaultDir(System.getenv(), System.getProperty("user.home")));
  }

  static Path defaultDir(Map<String, String> env, String userHome) {
    String v = env.get(ENV_DIR);
    if (v != null && !v.isBlank()) {
      return Path.of(v.strip());
    }
    return Path.of(userHome, ".cache", "nfnet");
  }

  public Path dir() {
    return dir;
  }

  /** Where the release file is kept once downloaded and verified. */
  public Path weights(Release r) {
    return dir.resolve(r.fileName());
  }

  /** Where its SavedModel is kept. */
  public Path model(Release r) {
    return dir.resolve("models").resolve(r.name());
  }

  /** The partial download of a file. */
  public static Path part(Path file) {
    return file.resolveSibling(file.getFileName() + PART);
  }
}
