package org.nfnet.converters.download;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nfnet.converters.ReleaseChecksums;
import org.nfnet.zoo.NFNetConfig;

/**
 * The weight files {@code pull} can fetch and where from: by default DeepMind's F0..F6 from
 * {@link ReleaseChecksums#RELEASE_URL} (or the mirror in {@code $NFNET_WEIGHTS_URL}); any other
 * set of releases can be given (a private mirror of fine-tuned weights, or a test's tiny model).
 * File {@code F0_haiku.npz} is fetched from {@code <base URL>/F0_haiku.npz}.
 */
public final class ReleaseCatalog {
  /** Environment variable naming a mirror of the release directory. */
  public static final String ENV_URL = "NFNET_WEIGHTS_URL";

  private final URI base;
  private final Map<String, Release> releases;

  private ReleaseCatalog(URI base, Map<String, Release> releases) {
    this.base = base;
    this.releases = releases;
  }

  /** DeepMind's F0..F6, from {@code $NFNET_WEIGHTS_URL} if set, else from DeepMind's bucket. */
  public static ReleaseCatalog deepMind() {
    List<Release> list = new ArrayList<>();
    for (String v : ReleaseChecksums.variants()) {
      list.add(new Release(v, ReleaseChecksums.fileName(v), ReleaseChecksums.md5Of(v).orElseThrow(),
          NFNetConfig.variant(v)));
    }
    return of(baseUrl(System.getenv()), list);
  }

  /** Any set of releases under one base URL. */
  public static ReleaseCatalog of(String baseUrl, Collection<Release> releases) {
    Map<String, Release> m = new LinkedHashMap<>();
    for (Release r : releases) {
      if (m.put(key(r.name()), r) != null) {
        throw new IllegalArgumentException("release " + r.name() + " is listed twice");
      }
    }
    return new ReleaseCatalog(parseBase(baseUrl), m);
  }

  /** The same releases from another server or directory (a mirror). */
  public ReleaseCatalog withBaseUrl(String baseUrl) {
    return new ReleaseCatalog(parseBase(baseUrl), releases);
  }

  /** {@code $NFNET_WEIGHTS_URL} when set and not blank, else DeepMind's bucket. */
  static String baseUrl(Map<String, String> env) {
    String v = env.get(ENV_URL);
    return v == null || v.isBlank() ? ReleaseChecksums.RELEASE_URL : v.strip();
  }

  public URI baseUrl() {
    return base;
  }

  public List<Release> releases() {
    return List.copyOf(releases.values());
  }

  /** The release called {@code name} (case-insensitive: f0 = F0). */
  public Release find(String name) {
    Release r = releases.get(key(name));
    if (r == null) {
      throw new IllegalArgumentException("no released weights called '" + name + "'; available: "
          + String.join(", ", releases.values().stream().map(Release::name).toList()));
    }
    return r;
  }

  /** Where a release's file is downloaded from. */
  public URI uri(Release r) {
    return base.resolve(r.fileName());
  }

  private static String key(String name) {
    return name.strip().toUpperCase(Locale.ROOT);
  }

  private static URI parseBase(String url) {
    String s = url.strip();
    if (!s.endsWith("/")) {
      s = s + "/"; // so that resolve() appends the file name instead of replacing the last segment
    }
    URI u;
    try {
      u = new URI(s);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("weights URL '" + url + "' is not a valid URL: " + e.getMessage());
    }
    String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https") || u.getHost() == null) {
      throw new IllegalArgumentException("weights URL '" + url + "' must be an http:// or https:// URL of the "
          + "directory holding the release files (e.g. http://host:8000/dm-nfnets)");
    }
    if (u.getQuery() != null || u.getFragment() != null) {
      throw new IllegalArgumentException("weights URL '" + url + "' must be a directory URL without ?query or #fragment");
    }
    return u;
  }
}
