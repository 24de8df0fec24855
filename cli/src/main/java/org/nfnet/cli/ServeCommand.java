package org.nfnet.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.savedmodel.NFNetServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code nfnet serve}: TF Serving's REST predict API for one exported model. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Serve a SavedModel over TF Serving's REST API (POST /v1/models/<name>:predict).")
final class ServeCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "SavedModel directory.")
  Path model;

  @Option(names = "--port", defaultValue = "8501", description = "Port (default ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--host", defaultValue = "127.0.0.1",
      description = "Address to bind (default ${DEFAULT-VALUE}; 0.0.0.0 for all interfaces).")
  String host;

  @Option(names = "--name", defaultValue = "nfnet", description = "Model name in the URL (default ${DEFAULT-VALUE}).")
  String name;

  @Override
  public Integer call() throws Exception {
    NFNetModel m = NFNetModel.load(model);
    NFNetServer server = NFNetServer.start(m, name,
        NFNetServer.Options.defaults().withHost(host).withPort(port));
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      m.close();
      stopped.countDown();
    }));
    System.out.printf("serving %s (%s) at %s/v1/models/%s:predict  (Ctrl-C stops)%n", model,
        m.variant(), server.baseUrl(), name);
    stopped.await();
    return 0;
  }
}
