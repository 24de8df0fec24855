package org.nfnet.savedmodel;

import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Objects;
import org.nfnet.converters.ConversionInput;
import org.nfnet.converters.ReadOptions;
import org.nfnet.converters.ReleaseChecksums;
import org.nfnet.converters.download.DownloadListener;
import org.nfnet.converters.download.HttpDownloader;
import org.nfnet.converters.download.Release;
import org.nfnet.converters.download.ReleaseCatalog;
import org.nfnet.converters.download.WeightCache;
import org.nfnet.zoo.graph.Precision;

/**
 * DeepMind's pretrained NFNets by name, the way timm's {@code pretrained=True} works: download the
 * release file into the cache (resumable, md5-verified while streaming), convert it to a SavedModel
 * with ImageNet labels, and reuse both next time. Behind {@code nfnet pull} and
 * {@link NFNetModel#pretrained(String)}.
 *
 * <pre>{@code
 * Path model = Pretrained.pull("F0", Pretrained.Options.defaults()).model();
 * }</pre>
 */
public final class Pretrained {
  private Pretrained() {}

  /**
   * Where and how to pull.
   *
   * @param cache download cache (also holds converted models unless {@code out} is given)
   * @param catalog the pullable releases and the URL they are fetched from
   * @param verify check the download's md5 against the release (a mismatch leaves nothing)
   * @param out the SavedModel directory to write, or null for {@code <cache>/models/<name>}
   *     ({@code <name>-bf16} for bf16)
   * @param listener download progress and remarks (nothing is printed by the library)
   * @param precision the export's convolution precision ({@link NFNetExporter#precision})
   */
  public record Options(WeightCache cache, ReleaseCatalog catalog, boolean verify, Path out,
      DownloadListener listener, Precision precision) {
    public Options {
      Objects.requireNonNull(cache, "cache");
      Objects.requireNonNull(catalog, "catalog");
      Objects.requireNonNull(listener, "listener");
      Objects.requireNonNull(precision, "precision");
    }

    /**
     * The cache in {@code $NFNET_CACHE} (default {@code ~/.cache/nfnet}), DeepMind's F0..F6 from
     * {@code $NFNET_WEIGHTS_URL} (default DeepMind's bucket), verification on.
     */
    public static Options defaults() {
      return new Options(WeightCache.fromEnvironment(), ReleaseCatalog.deepMind(), true, null,
          DownloadListener.NONE, Precision.FLOAT32);
    }

    public Options withCacheDir(Path dir) {
      return new Options(new WeightCache(dir), catalog, verify, out, listener, precision);
    }

    /** Fetch the release files from this directory URL (a mirror) instead. */
    public Options withBaseUrl(String url) {
      return new Options(cache, catalog.withBaseUrl(url), verify, out, listener, precision);
    }

    public Options withCatalog(ReleaseCatalog c) {
      return new Options(cache, c, verify, out, listener, precision);
    }

    public Options withVerify(boolean v) {
      return new Options(cache, catalog, v, out, listener, precision);
    }

    public Options withOut(Path dir) {
      return new Options(cache, catalog, verify, dir, listener, precision);
    }

    public Options withListener(DownloadListener l) {
      return new Options(cache, catalog, verify, out, l, precision);
    }

    /** Export with bf16 convolutions (kernels stored in bfloat16), or float32 (the default). */
    public Options withPrecision(Precision p) {
      return new Options(cache, catalog, verify, out, listener, p);
    }
  }

  /**
   * What {@link #pull} did.
   *
   * @param weights the cached release file (null when an existing model was reused without it)
   * @param downloaded the release file was fetched in this call
   * @param converted the SavedModel was written in this call (false: an existing one was reused)
   */
  public record Pulled(Release release, Path model, Path weights, boolean downloaded, boolean converted) {}

  /**
   * Makes sure the SavedModel of release {@code name} exists, downloading and converting as needed.
   *
   * @throws IllegalArgumentException unknown name, or {@code out} exists and is something else
   * @throws org.nfnet.converters.download.DownloadException HTTP errors, interrupted transfers
   *     (resumable), md5 mismatches (nothing is kept)
   */
  public static Pulled pull(String name, Options o) throws IOException {
    Release r = o.catalog().find(name);
    Path cached = o.cache().model(r);
    if (o.precision() == Precision.BFLOAT16) {
      cached = cached.resolveSibling(cached.getFileName() + "-bf16");
    }
    Path model = (o.out() != null ? o.out() : cached).toAbsolutePath().normalize();
    boolean replace = false;
    if (Files.exists(model)) {
      String problem = reuseProblem(model, r, o.verify(), o.precision());
      if (problem == null) {
        Path w = o.cache().weights(r);
        return new Pulled(r, model, Files.isRegularFile(w) ? w : null, false, false);
      }
      if (o.out() != null || !Files.isRegularFile(model.resolve(ModelCard.JSON))) {
        // Never replace a directory that is not our own cached export: it may be the user's.
        throw new IllegalArgumentException(model + " already exists and " + problem
            + "; remove it or choose another output directory");
      }
      o.listener().note("the cached model " + model + " " + problem + "; pulling the release again");
      replace = true;
    }
    Path weights = o.cache().weights(r);
    URI uri = o.catalog().uri(r);
    String md5 = null;
    if (Files.isRegularFile(weights) && o.verify()) {
      md5 = md5(weights);
      if (!md5.equals(r.md5())) {
        o.listener().note("the cached " + weights + " has md5 " + md5 + ", not the release's " + r.md5()
            + "; downloading it again");
        Files.delete(weights);
        md5 = null;
      }
    }
    boolean downloaded = false;
    if (!Files.isRegularFile(weights)) {
      HttpDownloader.Result d = new HttpDownloader().download(uri, weights, o.verify() ? r.md5() : null, o.listener());
      md5 = d.md5();
      downloaded = true;
    }
    o.listener().note("converting " + weights.getFileName() + " (" + r.variant().name() + ") to " + model);
    // Verified above (or verification is off): no second md5 pass in the reader.
    try (ConversionInput in = ConversionInput.open(weights, r.variant(), ReadOptions.defaults().withoutChecksum(), false)) {
      in.warnings().forEach(w -> o.listener().note("warning: " + w));
      Map<String, Object> card = WeightsExport.sourceCard(weights, md5);
      card.put("release", r.name());
      card.put("release_md5", r.md5());
      card.put("source_url", uri.toString());
      card.put("converted_by", "nfnet pull (TensorFlow Java 1.1.0)");
      WeightsExport.exporter(in, card).precision(o.precision()).force(replace).export(model);
    }
    return new Pulled(r, model, weights, downloaded, true);
  }

  /** Null if {@code dir} is a SavedModel of this release we can reuse, else why not. */
  static String reuseProblem(Path dir, Release r, boolean verify, Precision precision) {
    if (!Files.isRegularFile(dir.resolve("saved_model.pb")) || !Files.isRegularFile(dir.resolve(ModelCard.JSON))) {
      return "is not a SavedModel written by nfnet (no saved_model.pb / " + ModelCard.JSON + ")";
    }
    Map<String, Object> card;
    try {
      card = ModelCard.read(dir);
    } catch (IOException | RuntimeException e) {
      return "has an unreadable " + ModelCard.JSON + " (" + e.getMessage() + ")";
    }
    Object variant = card.get("variant");
    if (!r.variant().name().equals(variant)) {
      return "holds variant " + variant + ", not " + r.variant().name();
    }
    String wanted = precision.label();
    Object held = card.getOrDefault("conv_precision", "float32");
    if (!wanted.equals(held)) {
      return "holds a " + held + " export, not " + wanted;
    }
    Object source = card.get("source_md5");
    if (verify && !r.md5().equals(source)) {
      return "was converted from a file with md5 " + source + ", not the release's " + r.md5();
    }
    return null;
  }

  private static String md5(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return ReleaseChecksums.md5(ch);
    }
  }
}
