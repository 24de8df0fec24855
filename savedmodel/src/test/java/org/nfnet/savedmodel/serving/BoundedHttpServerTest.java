package org.nfnet.savedmodel.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 14 bug 3: slow and hostile clients on loopback. The handler echoes the body length, so
 * these tests need no model; every socket has a read timeout, so a hang fails instead of blocking.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BoundedHttpServerTest {
  static final String HOST = "127.0.0.1";

  static HttpLimits limits() {
    return HttpLimits.defaults().withMaxBodyBytes(1 << 20).withConnections(128, 8)
        .withTimeouts(Duration.ofMillis(1000), Duration.ofMillis(1000), Duration.ofMillis(3000));
  }

  static BoundedHttpServer echo(HttpLimits l) throws IOException {
    return BoundedHttpServer.start(HOST, 0, l, req -> {
      long n = req.body().transferTo(OutputStream.nullOutputStream());
      return BoundedHttpServer.Response.json(200, ("{\"bytes\": " + n + "}").getBytes(StandardCharsets.UTF_8));
    });
  }

  static Socket connect(int port) throws IOException {
    Socket s = new Socket(HOST, port);
    s.setSoTimeout(10_000);
    return s;
  }

  static void send(Socket s, String text) throws IOException {
    s.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
    s.getOutputStream().flush();
  }

  /** The response's status code and body (connection-close or Content-Length framed). */
  static String[] response(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed after: " + head);
      }
      head.append((char) b);
    }
    String h = head.toString();
    int len = 0;
    for (String line : h.split("\r\n")) {
      if (line.toLowerCase().startsWith("content-length:")) {
        len = Integer.parseInt(line.substring(15).trim());
      }
    }
    String body = new String(in.readNBytes(len), StandardCharsets.UTF_8);
    return new String[] {h.split(" ")[1], body};
  }

  static String post(int port, String body) throws IOException {
    try (Socket s = connect(port)) {
      send(s, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: " + body.length() + "\r\n\r\n" + body);
      return response(s)[0];
    }
  }

  @Test
  void wellFormedRequestsAreServedWhile50SlowClientsHang() throws Exception {
    try (BoundedHttpServer server = echo(limits())) {
      List<Socket> slow = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        Socket s = connect(server.port());
        send(s, "POST /x HTTP/1.1\r\nHost: a\r\n"); // slowloris: headers never finish
        slow.add(s);
      }
      long t0 = System.nanoTime();
      for (int i = 0; i < 5; i++) {
        assertEquals("200", post(server.port(), "hello"));
      }
      assertTrue(System.nanoTime() - t0 < TimeUnit.MILLISECONDS.toNanos(900),
          "served while the slow clients were still within their header timeout");
      for (Socket s : slow) {
        try (s) {
          assertEquals("408", response(s)[0]);
        }
      }
    }
  }

  @Test
  void stalledBodyAndUnterminatedChunkedBodyTimeOut() throws Exception {
    try (BoundedHttpServer server = echo(limits()); Socket a = connect(server.port());
        Socket b = connect(server.port()); Socket c = connect(server.port())) {
      send(a, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n0123456789");
      send(b, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      // trickles a byte every 500 ms: under the read timeout, over the request deadline
      send(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n");
      long t0 = System.nanoTime();
      Future<?> trickle = Executors.newSingleThreadExecutor().submit(() -> {
        for (int i = 0; i < 20; i++) {
          send(c, "x");
          Thread.sleep(500);
        }
        return null;
      });
      String[] ra = response(a);
      assertEquals("408", ra[0]);
      assertTrue(ra[1].contains("\"error\""), ra[1]);
      assertEquals("408", response(b)[0]);
      assertEquals("408", response(c)[0]);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertTrue(ms < 5000, "deadline of 3 s enforced, took " + ms + " ms");
      trickle.cancel(true);
    }
  }

  @Test
  void declaredOversizeBodyIs413BeforeReading() throws Exception {
    try (BoundedHttpServer server = echo(limits()); Socket s = connect(server.port())) {
      send(s, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\n");
      String[] r = response(s);
      assertEquals("413", r[0]);
      assertTrue(r[1].contains("1000000000") && r[1].contains(Long.toString(1 << 20)), r[1]);
    }
    // with Expect: 100-continue the client is refused before it sends anything
    try (BoundedHttpServer server = echo(limits()); Socket s = connect(server.port())) {
      send(s, "POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\n\r\n");
      assertEquals("413", response(s)[0]);
    }
    // a chunked body that outgrows the cap is cut off at the cap
    try (BoundedHttpServer server = echo(limits()); Socket s = connect(server.port())) {
      send(s, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n");
      assertEquals("413", response(s)[0]);
    }
  }

  @Test
  void oversizeBodySentInFullStillGetsTheStatusNotAReset() throws Exception {
    // a client that writes its whole body before reading (no Expect: 100-continue)
    try (BoundedHttpServer server = echo(limits()); Socket s = connect(server.port())) {
      byte[] body = new byte[3 << 20];
      send(s, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: " + body.length + "\r\n\r\n");
      s.getOutputStream().write(body);
      s.getOutputStream().flush();
      assertEquals("413", response(s)[0]);
    }
  }

  @Test
  void chunkedAndKeepAliveWork() throws Exception {
    try (BoundedHttpServer server = echo(limits()); Socket s = connect(server.port())) {
      send(s, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
      String[] r = response(s);
      assertEquals("200", r[0]);
      assertEquals("{\"bytes\": 8}", r[1]);
      send(s, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
      assertEquals("{\"bytes\": 2}", response(s)[1]);
    }
  }

  @Test
  void inFlightLimitAnswers429() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch entered = new CountDownLatch(8);
    HttpLimits l = limits();
    try (BoundedHttpServer server = BoundedHttpServer.start(HOST, 0, l, req -> {
      entered.countDown();
      try {
        release.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return BoundedHttpServer.Response.json(200, "{}".getBytes(StandardCharsets.UTF_8));
    })) {
      List<Socket> busy = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        Socket s = connect(server.port());
        send(s, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
        busy.add(s);
      }
      assertTrue(entered.await(10, TimeUnit.SECONDS));
      try (Socket s = connect(server.port())) {
        send(s, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
        String[] r = response(s);
        assertEquals("429", r[0]);
        assertTrue(r[1].contains("limit 8"), r[1]);
      }
      release.countDown();
      for (Socket s : busy) {
        try (s) {
          assertEquals("200", response(s)[0]);
        }
      }
    }
  }

  @Test
  void connectionLimitAnswers503() throws Exception {
    HttpLimits l = limits().withConnections(2, 2);
    try (BoundedHttpServer server = echo(l); Socket a = connect(server.port()); Socket b = connect(server.port())) {
      send(a, "GET /x HTTP/1.1\r\n");
      send(b, "GET /x HTTP/1.1\r\n");
      Thread.sleep(200);
      try (Socket c = connect(server.port())) {
        send(c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
        assertEquals("503", response(c)[0]);
      }
    }
  }

  @Test
  void burstOf200GetsOnly200Or429Or503AndNoReset() throws Exception {
    HttpLimits l = limits();
    try (BoundedHttpServer server = BoundedHttpServer.start(HOST, 0, l, req -> {
      req.body().transferTo(OutputStream.nullOutputStream());
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return BoundedHttpServer.Response.json(200, "{}".getBytes(StandardCharsets.UTF_8));
    })) {
      ExecutorService pool = Executors.newFixedThreadPool(200);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<String>> fs = new ArrayList<>();
      String body = "{\"instances\": [" + "1,".repeat(2000) + "1]}";
      for (int i = 0; i < 200; i++) {
        fs.add(pool.submit(() -> {
          go.await();
          return post(server.port(), body); // an IOException here (e.g. a reset) fails the test
        }));
      }
      go.countDown();
      int ok = 0;
      int limited = 0;
      for (Future<String> f : fs) {
        String status = f.get(30, TimeUnit.SECONDS);
        assertTrue(Set.of("200", "429", "503").contains(status), status);
        ok += status.equals("200") ? 1 : 0;
        limited += status.equals("429") ? 1 : 0;
      }
      pool.shutdownNow();
      assertTrue(ok >= 8, "at least the in-flight limit served: " + ok);
      assertTrue(limited > 0, "a burst of 200 over an in-flight limit of 8 must see 429s");
    }
  }

  @Test
  void busyPortErrorNamesThePort() throws Exception {
    try (BoundedHttpServer server = echo(limits())) {
      int port = server.port();
      IOException e = assertThrows(IOException.class,
          () -> BoundedHttpServer.start(HOST, port, limits(), req -> null));
      assertTrue(e.getMessage().contains("port " + port + " is already in use"), e.getMessage());
    }
  }
}
