package org.nfnet.savedmodel.serving;

import java.io.IOException;
import org.nfnet.savedmodel.NFNetModel;

/**
 * A TF Serving compatible REST server (tensorflow.org/tfx/serving/api_rest) for one model with
 * one or more versions: {@link RestApi} (routes, status, metadata, predict over every signature)
 * on {@link BoundedHttpServer} (timeouts, caps, 413/429/503), with {@link TfServingJson} as the
 * request/response codec.
 *
 * <p>Limits, all in {@link Options}: request bodies over {@code http.maxBodyBytes} are refused
 * (413, before reading when declared); at most {@code http.maxInFlight} requests are admitted
 * (429 beyond) on at most {@code http.maxConnections} connections (503 beyond); at most
 * {@code maxLargeBodies} bodies over 1 MiB are parsed at once and at most
 * {@code maxConcurrentRuns} sessions run at once, each waiting at most {@code queueTimeoutMillis}
 * (503 after); headers, body reads and whole requests have timeouts (408). Images are bounded by
 * the model's {@link org.nfnet.savedmodel.ImageDecoder} limits.
 */
public final class NFNetServer implements AutoCloseable {
  /** Tunables. */
  public record Options(String host, int port, HttpLimits http, int maxConcurrentRuns, int maxLargeBodies,
      long queueTimeoutMillis, int maxBatch) {
    public static Options defaults() {
      int cores = Runtime.getRuntime().availableProcessors();
      return new Options("127.0.0.1", 8501, HttpLimits.defaults(), Math.max(1, cores / 2), 4, 30_000, 64);
    }

    public Options withPort(int p) {
      return new Options(host, p, http, maxConcurrentRuns, maxLargeBodies, queueTimeoutMillis, maxBatch);
    }

    public Options withHost(String h) {
      return new Options(h, port, http, maxConcurrentRuns, maxLargeBodies, queueTimeoutMillis, maxBatch);
    }

    public Options withHttp(HttpLimits h) {
      return new Options(host, port, h, maxConcurrentRuns, maxLargeBodies, queueTimeoutMillis, maxBatch);
    }

    /** In-flight requests (429 beyond), concurrent session runs, request body cap. */
    public Options withLimits(int maxInFlight, int maxConcurrentRuns, long maxBodyBytes) {
      return new Options(host, port, http.withConnections(http.maxConnections(), maxInFlight)
          .withMaxBodyBytes(maxBodyBytes), maxConcurrentRuns, maxLargeBodies, queueTimeoutMillis, maxBatch);
    }

    public Options withQueueTimeoutMillis(long ms) {
      return new Options(host, port, http, maxConcurrentRuns, maxLargeBodies, ms, maxBatch);
    }
  }

  private final ServedModel model;
  private final BoundedHttpServer http;
  private final String host;

  private NFNetServer(ServedModel model, BoundedHttpServer http, String host) {
    this.model = model;
    this.http = http;
    this.host = host;
  }

  /** Serves {@code model} (all its loaded versions) as {@code /v1/models/<name>}. Port 0 picks a free port. */
  public static NFNetServer start(ServedModel model, Options opts) throws IOException {
    RestApi api = new RestApi(model, new SignatureRunner(opts.maxConcurrentRuns(), opts.queueTimeoutMillis(),
        opts.maxBatch()), opts.maxLargeBodies(), opts.queueTimeoutMillis());
    return new NFNetServer(model, BoundedHttpServer.start(opts.host(), opts.port(), opts.http(), api), opts.host());
  }

  /** Serves one loaded model as version 1 of {@code /v1/models/<name>}; does not close it. */
  public static NFNetServer start(NFNetModel model, String name, Options opts) throws IOException {
    return start(ServedModel.of(name, model), opts);
  }

  public int port() {
    return http.port();
  }

  public String baseUrl() {
    return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port();
  }

  public ServedModel model() {
    return model;
  }

  /** Stops accepting and waits up to 5 s for open requests; does not close the model. */
  @Override
  public void close() {
    http.close();
  }
}
