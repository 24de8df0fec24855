package org.nfnet.bench;

import com.google.common.math.Quantiles;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.nfnet.savedmodel.NFNetModel;
import org.nfnet.savedmodel.serving.NFNetServer;

/**
 * Load test on loopback: serves an export on 127.0.0.1 (ephemeral port), runs 4 concurrent
 * clients posting b64 JPEG requests, reports latency p50/p99, throughput, errors and RSS.
 * Args: exportDir [requests=300] [clients=4] [timeLimitSeconds=120].
 */
public final class ServeLoadTest {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int total = args.length > 1 ? Integer.parseInt(args[1]) : 300;
    int clients = args.length > 2 ? Integer.parseInt(args[2]) : 4;
    long limitNs = TimeUnit.SECONDS.toNanos(args.length > 3 ? Long.parseLong(args[3]) : 120);
    long rss0 = rssKb();
    try (NFNetModel model = NFNetModel.load(dir);
        NFNetServer server = NFNetServer.start(model, "nfnet",
            NFNetServer.Options.defaults().withHost("127.0.0.1").withPort(0))) {
      long rssLoaded = rssKb();
      BufferedImage img = new BufferedImage(320, 240, BufferedImage.TYPE_INT_RGB);
      Random r = new Random(1);
      for (int y = 0; y < 240; y++) {
        for (int x = 0; x < 320; x++) {
          img.setRGB(x, y, (x * 255 / 320) << 16 | (y * 255 / 240) << 8 | r.nextInt(64));
        }
      }
      ByteArrayOutputStream bos = new ByteArrayOutputStream();
      ImageIO.write(img, "jpg", bos);
      String body = "{\"instances\": [{\"b64\": \"" + Base64.getEncoder().encodeToString(bos.toByteArray()) + "\"}]}";
      HttpClient http = HttpClient.newBuilder().executor(Executors.newFixedThreadPool(clients)).build();
      URI uri = URI.create(server.baseUrl() + "/v1/models/nfnet:predict");
      // warm-up
      for (int i = 0; i < 3; i++) {
        http.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
            HttpResponse.BodyHandlers.ofString());
      }
      List<Long> lat = Collections.synchronizedList(new ArrayList<>());
      AtomicInteger errors = new AtomicInteger();
      AtomicInteger next = new AtomicInteger();
      long start = System.nanoTime();
      ExecutorService pool = Executors.newFixedThreadPool(clients);
      List<Future<?>> fs = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        fs.add(pool.submit(() -> {
          while (next.getAndIncrement() < total && System.nanoTime() - start < limitNs) {
            long t = System.nanoTime();
            try {
              HttpResponse<String> resp = http.send(HttpRequest.newBuilder(uri)
                  .timeout(java.time.Duration.ofSeconds(60))
                  .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
              if (resp.statusCode() != 200) {
                errors.incrementAndGet();
              }
            } catch (Exception e) {
              errors.incrementAndGet();
            }
            lat.add(System.nanoTime() - t);
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
      double secs = (System.nanoTime() - start) / 1e9;
      pool.shutdown();
      List<Long> sorted = new ArrayList<>(lat);
      Collections.sort(sorted);
      Map<Integer, Double> pct = Quantiles.percentiles().indexes(50, 99).compute(sorted);
      System.out.printf("model %s (%s), %d clients, %d requests in %.2f s%n", dir, model.variant(),
          clients, sorted.size(), secs);
      System.out.printf("latency p50 %.1f ms, p99 %.1f ms, max %.1f ms%n", pct.get(50) / 1e6,
          pct.get(99) / 1e6, sorted.get(sorted.size() - 1) / 1e6);
      System.out.printf("throughput %.1f req/s, errors %d%n", sorted.size() / secs, errors.get());
      System.out.printf("RSS: start %d MB, after load %d MB, after run %d MB%n", rss0 / 1024,
          rssLoaded / 1024, rssKb() / 1024);
    }
    System.exit(0);
  }

  static long rssKb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (Exception ignored) {
      // not Linux
    }
    return -1;
  }
}
