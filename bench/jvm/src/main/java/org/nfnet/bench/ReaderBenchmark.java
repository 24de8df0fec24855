package org.nfnet.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.NonFiniteScan;
import org.nfnet.converters.ParamArray;
import org.nfnet.converters.ReadOptions;
import org.nfnet.converters.WeightFileReader;

/**
 * Measures reading a weight file end to end: parse the structure, copy every array into a direct
 * buffer as float32, scan it for NaN/Inf. Not a unit test: run it by hand, e.g.
 *
 * <pre>
 * python3 /work/shared/tools/haiku_pickle.py --structure /work/shared/reference/structures.json \
 *     --variant F0 --out /tmp/F0_test.pkl --fill zeros
 * mvn -q -pl bench/jvm -am package -DskipTests
 * java -Xmx256m -cp "bench/jvm/target/classes:bench/jvm/target/lib/*" \
 *     org.nfnet.bench.ReaderBenchmark /tmp/F0_test.pkl 5
 * </pre>
 *
 * The first pass may include reading from disk; later passes run from the page cache.
 */
public final class ReaderBenchmark {
  private ReaderBenchmark() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: ReaderBenchmark FILE [passes]");
      System.exit(2);
    }
    Path file = Path.of(args[0]);
    int passes = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    long size = Files.size(file);
    ByteBuffer buf = null;
    for (int pass = 1; pass <= passes; pass++) {
      long t0 = System.nanoTime();
      long elements = 0;
      long bad = 0;
      int arrays;
      try (HaikuParams p = WeightFileReader.read(file, ReadOptions.defaults().withoutChecksum())) {
        long tParse = System.nanoTime();
        if (buf == null) {
          long max = p.arrays().stream().mapToLong(ParamArray::float32ByteLength).max().orElse(4);
          buf = ByteBuffer.allocateDirect((int) max).order(ByteOrder.nativeOrder());
        }
        long copyNs = 0;
        long scanNs = 0;
        for (ParamArray a : p.arrays()) {
          buf.clear();
          long c0 = System.nanoTime();
          a.copyAsFloat32(buf);
          buf.flip();
          long c1 = System.nanoTime();
          NonFiniteScan.Result r = NonFiniteScan.scan(buf);
          long c2 = System.nanoTime();
          copyNs += c1 - c0;
          scanNs += c2 - c1;
          bad += r.nanCount() + r.infCount();
          elements += a.elementCount();
        }
        arrays = p.arrayCount();
        long t1 = System.nanoTime();
        System.out.printf(Locale.ROOT,
            "pass %d: %d arrays, %,d elements, %d non-finite; parse %.1f ms, copy %.1f ms, scan %.1f ms,"
                + " total %.1f ms = %.0f MB/s%n",
            pass, arrays, elements, bad, (tParse - t0) / 1e6, copyNs / 1e6, scanNs / 1e6, (t1 - t0) / 1e6,
            size / 1e6 / ((t1 - t0) / 1e9));
      }
    }
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM") || line.startsWith("VmRSS")) {
        System.out.println(line);
      }
    }
  }
}
