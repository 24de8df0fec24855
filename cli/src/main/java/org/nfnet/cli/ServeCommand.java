package org.nfnet.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.nfnet.savedmodel.ImageDecoder;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.savedmodel.serving.HttpLimits;
import org.nfnet.savedmodel.serving.NFNetServer;
import org.nfnet.savedmodel.serving.ServedModel;
import org.nfnet.training.OneDnnWeightCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code nfnet serve}: TF Serving's REST API for one exported model (one or more versions). */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Serve a SavedModel over TF Serving's REST API (/v1/models/<name>[/versions/N]"
        + "[:predict|/metadata]).")
final class ServeCommand implements Callable<Integer> {
  @Option(names = "--model", required = true,
      description = "A model base directory with numbered versions (models/nfnet_f0 holding 1/, 2/),"
          + " as TF Serving takes, or one SavedModel directory.")
  Path model;

  @Option(names = "--versions", defaultValue = "latest",
      description = "Versions to load from a base directory: latest or all (default ${DEFAULT-VALUE}).")
  String versions;

  @Option(names = "--port", defaultValue = "8501", description = "Port (default ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--host", defaultValue = "127.0.0.1",
      description = "Address to bind (default ${DEFAULT-VALUE}; 0.0.0.0 for all interfaces).")
  String host;

  @Option(names = "--name", defaultValue = "nfnet", description = "Model name in the URL (default ${DEFAULT-VALUE}).")
  String name;

  @Option(names = "--max-body-mb", defaultValue = "32",
      description = "Request body cap in MiB; larger bodies get 413 (default ${DEFAULT-VALUE}).")
  long maxBodyMb;

  @Option(names = "--max-image-mb", defaultValue = "64",
      description = "Cap on one encoded image in MiB (default ${DEFAULT-VALUE}).")
  long maxImageMb;

  @Option(names = "--max-in-flight", defaultValue = "32",
      description = "Requests admitted at once; more get 429 (default ${DEFAULT-VALUE}).")
  int maxInFlight;

  @Option(names = "--header-timeout", defaultValue = "10",
      description = "Seconds allowed to send request headers (default ${DEFAULT-VALUE}).")
  long headerTimeout;

  @Option(names = "--read-timeout", defaultValue = "10",
      description = "Longest silence in seconds while a body is sent (default ${DEFAULT-VALUE}).")
  long readTimeout;

  @Option(names = "--request-timeout", defaultValue = "60",
      description = "Seconds allowed from a request's first byte to its last (default ${DEFAULT-VALUE}).")
  long requestTimeout;

  @Mixin FreezeOption freezing;

  @Override
  public Integer call() throws Exception {
    boolean weightCache = OneDnnWeightCache.on(System.getenv());
    ServedModel.Policy policy = switch (versions) {
      case "latest" -> ServedModel.Policy.LATEST;
      case "all" -> ServedModel.Policy.ALL;
      default -> throw new IllegalArgumentException("--versions must be latest or all, got '" + versions + "'");
    };
    if (maxBodyMb < 1 || maxImageMb < 1 || maxInFlight < 1 || headerTimeout < 1 || readTimeout < 1
        || requestTimeout < 1) {
      throw new IllegalArgumentException("--max-body-mb, --max-image-mb, --max-in-flight and the timeouts"
          + " must be >= 1");
    }
    HttpLimits http = HttpLimits.defaults().withMaxBodyBytes(maxBodyMb << 20)
        .withConnections(Math.max(HttpLimits.defaults().maxConnections(), 2 * maxInFlight), maxInFlight)
        .withTimeouts(Duration.ofSeconds(headerTimeout), Duration.ofSeconds(readTimeout),
            Duration.ofSeconds(requestTimeout));
    ServedModel served = ServedModel.load(name, model, policy, new NFNetModel.Options(null,
        ImageDecoder.Limits.defaults().withMaxImageBytes(maxImageMb << 20), freezing.freeze));
    NFNetServer server;
    try {
      server = NFNetServer.start(served, NFNetServer.Options.defaults().withHost(host).withPort(port).withHttp(http));
    } catch (Exception e) {
      served.close();
      throw e;
    }
    served.failedVersions().forEach((v, why) ->
        System.err.printf("warning: version %d of %s not served: %s%n", v, model, why));
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      served.close();
      stopped.countDown();
    }));
    served.versions().forEach((v, m) -> System.out.printf("version %d weights: %s%n", v, m.weights()));
    System.out.printf("oneDNN weight cache: %s%n", weightCache
        ? "on (one more copy of the weights per signature used; " + OneDnnWeightCache.VARIABLE
            + "=0 turns it off)"
        : "off (" + OneDnnWeightCache.VARIABLE + " unset or 0; the nfnet launcher sets it to 1)");
    System.out.printf("serving %s version%s %s at %s/v1/models/%s:predict  (Ctrl-C stops)%n", model,
        served.versions().size() > 1 ? "s" : "", served.versions().keySet(), server.baseUrl(), name);
    stopped.await();
    return 0;
  }
}
