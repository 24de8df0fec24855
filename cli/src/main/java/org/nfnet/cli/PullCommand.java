package org.nfnet.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.nfnet.converters.download.ReleaseCatalog;
import org.nfnet.savedmodel.Pretrained;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.Precision;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code nfnet pull F0}: DeepMind's release file downloaded into the cache (progress bar, resumed
 * if interrupted, md5-checked) and converted to a SavedModel with ImageNet labels; a second pull
 * finds the cached model and returns at once. The work is {@link Pretrained}'s.
 */
@Command(name = "pull", mixinStandardHelpOptions = true,
    description = "Download DeepMind's pretrained NFNet-F0..F6 (cached, resumable, md5-checked) and convert it "
        + "to a SavedModel with ImageNet labels.")
final class PullCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "NAME", description = "Release to pull: F0, F1, ... F6.")
  String name;

  @Option(names = "--out", paramLabel = "DIR",
      description = "SavedModel directory to create (default: <cache>/models/NAME, NAME-bf16 for"
          + " --precision bfloat16).")
  Path out;

  @Option(names = "--from", paramLabel = "URL", description = "Mirror: the URL of a directory holding F<n>_haiku.npz "
      + "(default: $NFNET_WEIGHTS_URL, else DeepMind's https://storage.googleapis.com/dm-nfnets/).")
  String from;

  @Option(names = "--cache", paramLabel = "DIR", description = "Cache directory (default: $NFNET_CACHE, else ~/.cache/nfnet).")
  Path cache;

  @Option(names = "--no-verify", description = "Skip the md5 check against DeepMind's release.")
  boolean noVerify;

  @Mixin PrecisionOption precision;

  private final ReleaseCatalog catalog;

  PullCommand() {
    this(null);
  }

  /** With another set of releases than DeepMind's (tests register a tiny one). */
  PullCommand(ReleaseCatalog catalog) {
    this.catalog = catalog;
  }

  @Override
  public Integer call() throws IOException {
    Precision p = precision.get();
    Pretrained.Options o = Pretrained.Options.defaults().withVerify(!noVerify).withPrecision(p)
        .withListener(new DownloadProgressBar(System.err));
    if (catalog != null) {
      o = o.withCatalog(catalog);
    }
    if (cache != null) {
      o = o.withCacheDir(cache);
    }
    if (from != null) {
      o = o.withBaseUrl(from);
    }
    if (out != null) {
      o = o.withOut(out);
    }
    long t0 = System.nanoTime();
    Pretrained.Pulled pulled = Pretrained.pull(name, o);
    NFNetConfig c = pulled.release().variant();
    if (!pulled.converted()) {
      System.out.printf("%s: already pulled: %s%n", pulled.release().name(), pulled.model());
    } else {
      System.out.printf("%s: wrote %s (%s, %d classes%s, %s convolutions) in %.1f s%n",
          pulled.release().name(), pulled.model(), c.name(), c.numClasses(),
          c.numClasses() == 1000 ? ", ImageNet labels" : "", p.label(),
          (System.nanoTime() - t0) / 1e9);
    }
    System.out.printf("next: ./nfnet predict --model %s IMAGE...%n", pulled.model());
    return 0;
  }
}
