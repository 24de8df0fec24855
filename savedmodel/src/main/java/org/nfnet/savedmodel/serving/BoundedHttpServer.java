package org.nfnet.savedmodel.serving;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A small HTTP/1.1 server whose every wait is bounded (see {@link HttpLimits}).
 *
 * <p>Why not the JDK's {@code com.sun.net.httpserver}: it has no per-read or header timeout (its
 * only knobs are JVM-wide {@code sun.net.httpserver.*} system properties, which a library must not
 * set), it reads headers and bodies on the handler pool so eight slow clients stall eight threads,
 * and it cannot refuse a declared oversize body before the client sends it (no control over
 * {@code 100 Continue}). Here each connection has its own thread up to {@code maxConnections}
 * (a blocking socket with a timeout per read is the simplest way to bound every wait; a slow
 * client costs one parked thread, never a worker), headers and bodies are read under a deadline,
 * and admission ({@code maxInFlight}, 429) happens after the headers, before the body.
 *
 * <p>Supports Content-Length and chunked bodies, {@code Expect: 100-continue}, keep-alive. An
 * error response that leaves request bytes unread closes the connection gracefully (FIN, then a
 * short bounded drain) so that clients read the status instead of a TCP reset.
 */
public final class BoundedHttpServer implements AutoCloseable {
  /** A parsed request; the body stream enforces the cap and the deadline. */
  public record Request(String method, String path, Map<String, String> headers, InputStream body) {}

  /** A complete response. */
  public record Response(int status, String contentType, byte[] body) {
    public static Response json(int status, byte[] body) {
      return new Response(status, "application/json", body);
    }
  }

  /** Handles one admitted request. */
  @FunctionalInterface
  public interface Handler {
    Response handle(Request request) throws IOException, HttpStatusException;
  }

  private static final long DRAIN_MILLIS = 2000;
  private static final long DRAIN_BYTES = 1 << 20;
  private static final long KEEP_ALIVE = -1;

  private final HttpLimits limits;
  private final Handler handler;
  private final ServerSocket socket;
  private final ThreadPoolExecutor connections;
  private final ThreadPoolExecutor rejecter;
  private final Semaphore inFlight;
  private final Thread acceptor;
  private volatile boolean closed;

  private BoundedHttpServer(ServerSocket socket, HttpLimits limits, Handler handler) {
    this.socket = socket;
    this.limits = limits;
    this.handler = handler;
    this.inFlight = new Semaphore(limits.maxInFlight());
    this.connections = new ThreadPoolExecutor(0, limits.maxConnections(), 30, TimeUnit.SECONDS,
        new SynchronousQueue<>(), r -> daemon(r, "nfnet-http"));
    this.rejecter = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(256),
        r -> daemon(r, "nfnet-http-reject"));
    this.acceptor = daemon(this::acceptLoop, "nfnet-http-accept");
  }

  /**
   * Binds {@code host:port} (port 0: any free port) and starts accepting.
   *
   * @throws IOException naming the address when the port is in use or cannot be bound
   */
  public static BoundedHttpServer start(String host, int port, HttpLimits limits, Handler handler)
      throws IOException {
    ServerSocket s = new ServerSocket();
    try {
      s.setReuseAddress(true);
      // a deep backlog so that a burst of connections queues in the kernel instead of being refused
      s.bind(new InetSocketAddress(host, port), Math.max(1024, limits.maxConnections()));
    } catch (BindException e) {
      s.close();
      throw new IOException("cannot listen on " + host + ":" + port + ": "
          + (e.getMessage() != null && e.getMessage().contains("in use")
              ? "port " + port + " is already in use" : e.getMessage()), e);
    } catch (IOException | RuntimeException e) {
      s.close();
      throw new IOException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
    }
    BoundedHttpServer server = new BoundedHttpServer(s, limits, handler);
    server.acceptor.start();
    return server;
  }

  public int port() {
    return socket.getLocalPort();
  }

  public HttpLimits limits() {
    return limits;
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  private void acceptLoop() {
    while (!closed) {
      Socket c;
      try {
        c = socket.accept();
      } catch (IOException e) {
        if (closed) {
          return;
        }
        continue;
      }
      try {
        connections.execute(() -> serve(c));
      } catch (RejectedExecutionException full) {
        try {
          rejecter.execute(() -> refuse(c, 503, "too many open connections (limit "
              + limits.maxConnections() + ")"));
        } catch (RejectedExecutionException alsoFull) {
          closeQuietly(c);
        }
      }
    }
  }

  private void refuse(Socket c, int status, String message) {
    try {
      c.setSoTimeout((int) DRAIN_MILLIS);
      write(c.getOutputStream(), status, "application/json", error(message), false);
    } catch (IOException ignored) {
      // the client is gone
    }
    lingeringClose(c, DRAIN_BYTES);
  }

  /** One connection: requests in sequence while keep-alive lasts. */
  private void serve(Socket c) {
    try (c) {
      c.setTcpNoDelay(true);
      DeadlineInput in = new DeadlineInput(c);
      OutputStream out = new BufferedOutputStream(c.getOutputStream(), 16 << 10);
      boolean first = true;
      while (!closed) {
        long idle = (first ? limits.headerTimeout() : limits.keepAliveTimeout()).toMillis();
        in.deadline(System.currentTimeMillis() + idle, idle);
        if (in.peek() < 0) {
          return; // client closed an idle connection
        }
        first = false;
        long drain = serveOne(c, in, out);
        if (drain != KEEP_ALIVE) {
          lingeringClose(c, drain);
          return;
        }
      }
    } catch (IOException e) {
      // idle timeout or client gone: nothing to answer
    }
  }

  /**
   * Serves one request; returns {@link #KEEP_ALIVE} when the connection may be reused, else how
   * many unread request bytes to discard before closing.
   */
  private long serveOne(Socket c, DeadlineInput in, OutputStream out) throws IOException {
    long start = System.currentTimeMillis();
    in.deadline(start + limits.headerTimeout().toMillis(), limits.headerTimeout().toMillis());
    RequestHead head;
    try {
      head = RequestHead.read(in, limits.maxHeaderBytes());
    } catch (SocketTimeoutException e) {
      sendQuietly(out, 408, "request headers not received within "
          + limits.headerTimeout().toMillis() + " ms");
      return DRAIN_BYTES;
    } catch (HttpStatusException e) {
      sendQuietly(out, e.status(), e.getMessage());
      return DRAIN_BYTES;
    }
    boolean keepAlive = head.keepAlive();
    long declared;
    try {
      declared = head.contentLength();
    } catch (HttpStatusException e) {
      sendQuietly(out, e.status(), e.getMessage());
      return DRAIN_BYTES;
    }
    if (declared > limits.maxBodyBytes()) {
      sendQuietly(out, 413, "request body of " + declared + " bytes exceeds the limit of "
          + limits.maxBodyBytes() + " bytes");
      return drainBudget(head, declared);
    }
    if (!inFlight.tryAcquire()) {
      sendQuietly(out, 429, "too many requests in flight (limit " + limits.maxInFlight() + ")");
      return drainBudget(head, declared);
    }
    try {
      if (head.expectsContinue() && declared != 0) {
        out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
      }
      long readMs = limits.readTimeout().toMillis();
      in.deadline(start + limits.requestDeadline().toMillis(), readMs);
      BodyInput body = new BodyInput(in, declared, limits.maxBodyBytes());
      Response r;
      try {
        r = handler.handle(new Request(head.method(), head.path(), head.headers(), body));
        keepAlive &= body.drainQuietly();
      } catch (HttpStatusException e) {
        r = Response.json(e.status(), error(e.getMessage()));
        keepAlive &= body.drainQuietly();
      } catch (BodyInput.TooLarge e) {
        sendQuietly(out, 413, e.getMessage());
        return DRAIN_BYTES;
      } catch (RuntimeException e) {
        // a bug or a closed model: answer 500 with the reason rather than dropping the connection
        sendQuietly(out, 500, "internal error: " + e);
        return DRAIN_BYTES;
      } catch (SocketTimeoutException e) {
        sendQuietly(out, 408, "request body not received within the time limit ("
            + readMs + " ms without data or " + limits.requestDeadline().toMillis() + " ms in total)");
        return DRAIN_BYTES;
      }
      write(out, r.status(), r.contentType(), r.body(), keepAlive);
      return keepAlive ? KEEP_ALIVE : DRAIN_BYTES;
    } finally {
      inFlight.release();
    }
  }

  /**
   * Unread bytes worth discarding after an early refusal, so that a client that sends its whole
   * body before reading sees the status, not a reset: none when it waits for 100 Continue, else up
   * to 4x the body cap (and {@link #DRAIN_MILLIS} at most).
   */
  private long drainBudget(RequestHead head, long declared) {
    if (head.expectsContinue()) {
      return DRAIN_BYTES;
    }
    long cap = 4 * limits.maxBodyBytes();
    return Math.max(DRAIN_BYTES, declared == BodyInput.CHUNKED ? cap : Math.min(declared, cap));
  }

  private void sendQuietly(OutputStream out, int status, String message) {
    try {
      write(out, status, "application/json", error(message), false);
    } catch (IOException ignored) {
      // client gone
    }
  }

  static byte[] error(String message) {
    return ("{\"error\": \"" + new String(JsonStringEncoder.getInstance().quoteAsString(message)) + "\"}")
        .getBytes(StandardCharsets.UTF_8);
  }

  private static void write(OutputStream out, int status, String type, byte[] body, boolean keepAlive)
      throws IOException {
    String head = "HTTP/1.1 " + status + " " + reason(status) + "\r\nContent-Type: " + type
        + "\r\nContent-Length: " + body.length + "\r\nConnection: " + (keepAlive ? "keep-alive" : "close")
        + "\r\n\r\n";
    out.write(head.getBytes(StandardCharsets.ISO_8859_1));
    out.write(body);
    out.flush();
  }

  private static String reason(int s) {
    return switch (s) {
      case 200 -> "OK";
      case 400 -> "Bad Request";
      case 404 -> "Not Found";
      case 405 -> "Method Not Allowed";
      case 408 -> "Request Timeout";
      case 411 -> "Length Required";
      case 413 -> "Payload Too Large";
      case 429 -> "Too Many Requests";
      case 500 -> "Internal Server Error";
      case 431 -> "Request Header Fields Too Large";
      case 501 -> "Not Implemented";
      case 503 -> "Service Unavailable";
      default -> s >= 500 ? "Server Error" : "Error";
    };
  }

  /**
   * Sends FIN, then reads and discards what the client still sends (bounded in bytes and time)
   * before closing: closing with unread input would make the kernel answer with a TCP reset,
   * which can destroy the response before the client reads it.
   */
  private static void lingeringClose(Socket c, long maxBytes) {
    try {
      c.shutdownOutput();
      c.setSoTimeout(200);
      InputStream in = c.getInputStream();
      byte[] buf = new byte[8192];
      long end = System.currentTimeMillis() + DRAIN_MILLIS;
      long total = 0;
      while (total < maxBytes && System.currentTimeMillis() < end) {
        int r;
        try {
          r = in.read(buf);
        } catch (SocketTimeoutException e) {
          continue;
        }
        if (r < 0) {
          break;
        }
        total += r;
      }
    } catch (IOException ignored) {
      // the client is gone
    } finally {
      closeQuietly(c);
    }
  }

  private static void closeQuietly(Socket c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // nothing to do
    }
  }

  /** Stops accepting and closes the listening socket; open connections finish their request. */
  @Override
  public void close() {
    closed = true;
    try {
      socket.close();
    } catch (IOException ignored) {
      // already closed
    }
    connections.shutdown();
    rejecter.shutdown();
    try {
      connections.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
