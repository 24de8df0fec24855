package org.nfnet.savedmodel;

import java.util.Random;
import java.util.function.Function;
import org.nfnet.testing.SharedFixtures;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/** Test models: the T0 config and deterministic, non-trivial random parameter values. */
public final class TestModels {
  private TestModels() {}

  public static NFNetConfig t0() {
    return SharedFixtures.t0Config();
  }

  /**
   * Seeded values per parameter (seed mixed with the Haiku key): unit-normal kernels, gains
   * around 1, small biases, skip gains of ~0.5 (so residual branches are on, unlike at init) and
   * fan-in-scaled linear weights.
   */
  public static Function<ParameterSpec, TFloat32> randomValues(long seed) {
    return spec -> {
      Random r = new Random(seed * 1_000_003L + spec.haikuKey().hashCode());
      long[] shape = spec.shape();
      float[] v = new float[(int) spec.size()];
      for (int i = 0; i < v.length; i++) {
        double g = r.nextGaussian();
        v[i] = (float) switch (spec.name()) {
          case "gain" -> 1 + 0.2 * g;
          case "bias", "b" -> 0.1 * g;
          case "skip_gain" -> 0.5 + 0.1 * g;
          case "w" -> shape.length == 2 ? g / Math.sqrt(shape[0]) : g;
          default -> g;
        };
      }
      return TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(v, false, false));
    };
  }

  static byte[] randomPixels(long seed, int n) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }
}
