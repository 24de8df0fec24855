package org.nfnet.training.distributed;

import java.util.logging.Level;
import java.util.logging.Logger;
import org.tensorflow.Graph;
import org.tensorflow.Server;
import org.tensorflow.Session;
import org.tensorflow.proto.ConfigProto;

/**
 * This process's task of the {@link ClusterSpec}: an in-process TensorFlow gRPC server
 * ({@link org.tensorflow.Server}) hosting the task's master and worker services, plus the
 * session config that makes collectives find the group leader.
 *
 * <p><b>Shutdown.</b> TF's {@code GrpcServer::Stop()} on a started server returns UNIMPLEMENTED
 * ("Clean shutdown is not currently implemented") and TF Java's {@code Server.close()} calls it
 * first (and deleting a started server natively would CHECK-fail and abort the process). So
 * {@link #close()} does not stop anything: the server, its port and its threads live until the
 * process exits, which is the shutdown. Start exactly one server per process, for the lifetime of
 * the process; run tests that need one in a child JVM.
 *
 * <p>The server listens on all interfaces ({@code 0.0.0.0:port}, hard-coded in TF's gRPC server)
 * whatever host is given in the cluster list; use a firewall or a private network (there is no
 * authentication).
 */
public final class WorkerServer implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(WorkerServer.class.getName());

  private final ClusterSpec cluster;
  private final ConfigProto sessionConfig;
  private final Server server;
  private volatile boolean closed;

  private WorkerServer(ClusterSpec cluster, ConfigProto sessionConfig, Server server) {
    this.cluster = cluster;
    this.sessionConfig = sessionConfig;
    this.server = server;
  }

  /**
   * Creates and starts this task's server.
   *
   * @param base extra session settings (threads, GPU options...), may be null; the group leader
   *     and device filter are added by {@link ClusterSpec#sessionConfig}
   */
  public static WorkerServer start(ClusterSpec cluster, ConfigProto base) {
    ConfigProto config = cluster.sessionConfig(base);
    Server server = new Server(cluster.toServerDef(config));
    server.start();
    LOG.info(() -> "started TF gRPC server for " + ClusterSpec.taskName(cluster.taskIndex())
        + " on port " + cluster.localPort() + " (cluster " + cluster.workers() + ")");
    return new WorkerServer(cluster, config, server);
  }

  private static WorkerServer processServer;

  /**
   * This process's server for {@code cluster}, started on first use (a process can host only one
   * task, and a TF server cannot be stopped): later calls with the same cluster and task return
   * it, a different cluster or task is an error.
   */
  public static synchronized WorkerServer shared(ClusterSpec cluster, ConfigProto base) {
    if (processServer != null) {
      ClusterSpec c = processServer.cluster;
      if (!c.workers().equals(cluster.workers()) || c.taskIndex() != cluster.taskIndex()) {
        throw new IllegalStateException("this process already runs " + c
            + "; a process can host one task only (asked for " + cluster + ")");
      }
      return processServer;
    }
    processServer = start(cluster, base);
    return processServer;
  }

  public ClusterSpec cluster() {
    return cluster;
  }

  /** Session target of this task's in-process master: {@code grpc://localhost:<port>}. */
  public String target() {
    return "grpc://localhost:" + cluster.localPort();
  }

  /** The config the server was started with (group leader + device filter). */
  public ConfigProto sessionConfig() {
    return sessionConfig;
  }

  /**
   * Opens a session on this task's master with {@link #sessionConfig()}. Call
   * {@link Session#initialize()} before the first step (no auto-init, see
   * {@link TargetedSession}).
   */
  public Session newSession(Graph graph) {
    if (closed) {
      throw new IllegalStateException("WorkerServer closed");
    }
    return TargetedSession.open(graph, target(), sessionConfig);
  }

  /**
   * Tries {@code Server.stop()}; TF 2.18 refuses ("Clean shutdown is not currently
   * implemented"), in which case the server keeps serving until process exit. Never throws.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      server.stop();
    } catch (RuntimeException e) {
      LOG.log(
          Level.FINE,
          "TF gRPC server cannot be stopped ({0}); it stays up until the process exits",
          e.getMessage());
    }
  }
}
