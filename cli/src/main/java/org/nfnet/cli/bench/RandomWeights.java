package org.nfnet.cli.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * Host-side random parameter values shaped like trained ones (fan-in scaled kernels, gains near 1,
 * small biases, non-zero skip gains), so benchmarks exercise every branch at realistic magnitudes.
 */
public final class RandomWeights {
  private RandomWeights() {}

  public static Function<ParameterSpec, TFloat32> values(long seed) {
    return spec -> {
      SplittableRandom r = new SplittableRandom(seed ^ spec.haikuKey().hashCode());
      long[] shape = spec.shape();
      long fanIn = 1;
      for (int i = 0; i < shape.length - 1; i++) {
        fanIn *= shape[i];
      }
      double std = shape.length > 1 ? 1 / Math.sqrt(fanIn) : 0.1;
      double mean = spec.name().equals("gain") ? 1.0 : spec.name().equals("skip_gain") ? 0.3 : 0.0;
      ByteBuffer b = ByteBuffer.allocateDirect((int) spec.size() * 4).order(ByteOrder.nativeOrder());
      FloatBuffer f = b.asFloatBuffer();
      for (long i = 0; i < spec.size(); i++) {
        f.put((float) (mean + std * r.nextGaussian()));
      }
      f.flip();
      return TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(f));
    };
  }
}
