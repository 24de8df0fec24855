package org.nfnet.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nfnet.converters.ConversionInput;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.ReadOptions;
import org.nfnet.converters.WeightFileException;
import org.nfnet.converters.WeightFileReader;
import org.nfnet.savedmodel.NFNetExporter;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.types.TFloat32;

/**
 * The conversion streams: the exporter asks for one parameter at a time and has closed the
 * previous tensor before it asks for the next, and the reader writes each parameter straight into
 * the tensor it returns. Together that is what keeps a conversion's peak memory at the variables
 * plus one parameter, instead of also holding a Java-side copy of the file (or 64 MB batches of
 * it). Checked by counting the tensors handed out and still open, not by timing or RSS.
 */
class StreamingExportTest {
  private static final Path T0 = SharedFixtures.t0().resolve("t0_seed5_release.pkl");

  @TempDir
  Path dir;

  /** Wraps a value source and records, at every request, which earlier tensors are still open. */
  private static final class Tracker implements Function<ParameterSpec, TFloat32> {
    private final Function<ParameterSpec, TFloat32> inner;
    private final Map<String, TFloat32> handedOut = new LinkedHashMap<>();
    final List<String> requested = new ArrayList<>();
    /** Per request: the keys of tensors handed out earlier and not yet closed. */
    final List<List<String>> openAtRequest = new ArrayList<>();

    Tracker(Function<ParameterSpec, TFloat32> inner) {
      this.inner = inner;
    }

    @Override
    public TFloat32 apply(ParameterSpec spec) {
      openAtRequest.add(stillOpen());
      requested.add(spec.haikuKey());
      TFloat32 t = inner.apply(spec);
      handedOut.put(spec.haikuKey() + "#" + requested.size(), t);
      return t;
    }

    List<String> stillOpen() {
      return handedOut.entrySet().stream().filter(e -> isOpen(e.getValue()))
          .map(e -> e.getKey().substring(0, e.getKey().indexOf('#'))).collect(Collectors.toList());
    }

    private static boolean isOpen(TFloat32 t) {
      try {
        t.numBytes();
        return true;
      } catch (IllegalStateException closed) {
        return false;
      }
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void exporterHoldsOneParameterAtATimeAndClosesEveryOne(boolean fold) throws IOException {
    NFNetConfig t0 = SharedFixtures.t0Config();
    try (ConversionInput in = ConversionInput.open(T0, t0, ReadOptions.defaults(), true)) {
      Tracker tracker = new Tracker(in.float32Tensors());
      new NFNetExporter(in.config()).parameters(tracker).fold(fold).export(dir.resolve("m"));

      // Every parameter of the file was read exactly once.
      List<String> all = in.parameters().stream().map(ParameterSpec::haikuKey).toList();
      assertEquals(all.size(), tracker.requested.size());
      assertEquals(new HashSet<>(all), new HashSet<>(tracker.requested));

      for (int i = 0; i < tracker.requested.size(); i++) {
        List<String> open = tracker.openAtRequest.get(i);
        String key = tracker.requested.get(i);
        if (fold && key.endsWith("/gain")) {
          // Folding standardizes w with its gain, so the module's w is the one tensor still open.
          String w = key.substring(0, key.length() - "gain".length()) + "w";
          assertEquals(List.of(w), open, "open when " + key + " was requested");
        } else {
          assertEquals(List.of(), open, "open when " + key + " was requested");
        }
      }
      assertEquals(List.of(), tracker.stillOpen(), "tensors left open after the export");
    }
  }

  @Test
  void aNaNFoundWhileStreamingNamesTheParameterAndLeavesNoOutput() throws IOException {
    NFNetConfig t0 = SharedFixtures.t0Config();
    String victim = "NFNet/~/nf_block_1/~/conv1/w";
    Path file = dir.resolve("nan.pkl");
    Files.copy(T0, file);
    long offset;
    try (HaikuParams p = WeightFileReader.read(file)) {
      offset = p.get(victim).fileOffset();
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ByteBuffer nan = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, Float.NaN);
      ch.write(nan, offset + 4 * 5);
    }
    Path out = dir.resolve("out").resolve("model");
    // Names and shapes are fine, so opening succeeds; the NaN is found when the value is read.
    try (ConversionInput in = ConversionInput.open(file, t0, ReadOptions.defaults(), true)) {
      WeightFileException e = assertThrows(WeightFileException.class,
          () -> new NFNetExporter(in.config()).parameters(in.float32Tensors()).export(out));
      assertTrue(e.getMessage().contains(victim) && e.getMessage().contains("flat index 5"), e.getMessage());
      assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }
    assertFalse(Files.exists(out));
    try (Stream<Path> left = Files.list(out.getParent())) {
      assertEquals(List.of(), left.toList(), "temporary export directories left behind");
    }
  }
}
