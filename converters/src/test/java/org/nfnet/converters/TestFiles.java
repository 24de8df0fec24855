package org.nfnet.converters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;

/** Paths of committed test weights and builders for generated ones. */
final class TestFiles {
  static final Path SHARED = SharedFixtures.dir();
  static final Path T0_DIR = SharedFixtures.t0();

  private TestFiles() {}

  static Path resource(String name) {
    try {
      return Path.of(TestFiles.class.getResource("/weights/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Writes a sparse pickle in the release layout with every parameter of {@code config} (data = holes). */
  static Path sparseVariantFile(Path file, NFNetConfig config) {
    return sparseFile(file, NFNetStructure.parameters(config));
  }

  static Path sparseFile(Path file, List<ParameterSpec> specs) {
    Map<String, Map<String, PickleWriter.Arr>> tree = new LinkedHashMap<>();
    for (ParameterSpec s : specs) {
      tree.computeIfAbsent(s.module(), m -> new LinkedHashMap<>()).put(s.name(), PickleWriter.Arr.hole(s.shape()));
    }
    try (PickleWriter w = new PickleWriter(file).releaseLayout()) {
      w.haikuTree(tree);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  /**
   * The value haiku_pickle.py writes at flat index {@code i} of a tensor: see its pattern_bytes
   * (same double arithmetic, then rounded to float32 like struct.pack('f')).
   */
  static float pattern(long[] shape, int salt, long i) {
    long fanIn = 1;
    if (shape.length > 1) {
      for (int d = 0; d < shape.length - 1; d++) {
        fanIn *= shape[d];
      }
    }
    double scale = 1.0 / 1000.0 / Math.sqrt(fanIn);
    return (float) (((i * 2654435761L + salt) % 2001 - 1000) * scale);
  }
}
