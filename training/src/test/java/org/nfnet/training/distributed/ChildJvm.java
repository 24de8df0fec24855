package org.nfnet.training.distributed;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A {@link WorkerProcessMain} in a child JVM; stdout lines are queued, stderr goes to a file. */
final class ChildJvm implements AutoCloseable {

  private final Process process;
  private final Path stderr;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final List<String> seen = new ArrayList<>();

  ChildJvm(String... args) throws IOException {
    stderr = Files.createTempFile("nfnet-worker-", ".log");
    List<String> cmd = new ArrayList<>();
    cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx256m");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(WorkerProcessMain.class.getName());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(stderr.toFile());
    pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "1");
    process = pb.start();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String l; (l = r.readLine()) != null; ) {
          lines.add(l);
        }
      } catch (IOException ignored) {
        // process killed
      }
    }, "child-stdout");
    reader.setDaemon(true);
    reader.start();
  }

  /** Waits for the next stdout line starting with one of {@code prefixes}; fails on timeout. */
  String await(long timeoutMs, String... prefixes) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (true) {
      long left = deadline - System.nanoTime();
      String l = left <= 0 ? null : lines.poll(left, TimeUnit.NANOSECONDS);
      if (l == null) {
        throw new AssertionError("no line starting with " + List.of(prefixes) + " within "
            + timeoutMs + " ms; stdout so far " + seen + "; stderr tail:\n" + stderrTail());
      }
      seen.add(l);
      if (l.startsWith("ERROR")) {
        throw new AssertionError("worker failed: " + l + "\nstderr tail:\n" + stderrTail());
      }
      for (String p : prefixes) {
        if (l.startsWith(p)) {
          return l;
        }
      }
    }
  }

  /** Every stdout line consumed so far by {@link #await}. */
  List<String> seen() {
    return List.copyOf(seen);
  }

  void kill() {
    process.destroyForcibly();
  }

  String stderrTail() {
    try {
      List<String> all = Files.readAllLines(stderr, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - 15), all.size()));
    } catch (IOException e) {
      return "(" + e + ")";
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
    try {
      Files.deleteIfExists(stderr);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code 127.0.0.1:p1,127.0.0.1:p2,...} with ports free right now. */
  static String loopbackCluster(int n) throws IOException {
    List<ServerSocket> sockets = new ArrayList<>();
    List<String> addrs = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        sockets.add(s);
        addrs.add("127.0.0.1:" + s.getLocalPort());
      }
    } finally {
      for (ServerSocket s : sockets) {
        s.close();
      }
    }
    return String.join(",", addrs);
  }
}
