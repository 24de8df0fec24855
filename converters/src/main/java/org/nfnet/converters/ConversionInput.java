package org.nfnet.converters;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.nfnet.converters.validation.NonFiniteScan;
import org.nfnet.converters.validation.ValidationReport;
import org.nfnet.converters.validation.VariantDetector;
import org.nfnet.converters.validation.WeightValidator;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * What the {@code convert} command needs from a weight file, in one object: the file read and
 * checked against a variant (given, or detected from the weights), and every parameter copied as
 * float32 in the model's forward order, each scanned for NaN/Inf as it is copied (so the data is
 * read once).
 *
 * <pre>{@code
 * try (ConversionInput in = ConversionInput.open(file, null, ReadOptions.defaults(), false)) {
 *   for (ParameterSpec spec : in.parameters()) {
 *     ByteBuffer dst = ...;                 // e.g. a TFloat32's memory, spec.size() * 4 bytes
 *     in.copyFloat32(spec, dst);            // fails on NaN/Inf naming the parameter
 *     String tfName = spec.tfName();
 *   }
 * }
 * }</pre>
 */
public final class ConversionInput implements Closeable {
  private final HaikuParams params;
  private final NFNetConfig config;
  private final List<String> warnings;

  private ConversionInput(HaikuParams params, NFNetConfig config, List<String> warnings) {
    this.params = params;
    this.config = config;
    this.warnings = List.copyOf(warnings);
  }

  /**
   * Reads and validates a weight file.
   *
   * @param variant the variant to convert to, or null to detect it (F0..F7, F0+..F7+) and take the
   *     number of classes from the classifier
   * @param strict entries the variant does not use are errors instead of warnings
   * @throws WeightFileException if the file is unreadable, refused, or does not fit the variant
   */
  public static ConversionInput open(Path file, NFNetConfig variant, ReadOptions options, boolean strict) {
    HaikuParams params = WeightFileReader.read(file, options);
    try {
      NFNetConfig config = variant != null ? variant : VariantDetector.detect(params).config();
      ValidationReport report = WeightValidator.validate(params, config,
          new WeightValidator.Options(strict, false));
      report.throwIfFailed(file);
      return new ConversionInput(params, config, report.warnings());
    } catch (RuntimeException e) {
      try {
        params.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** The variant the weights were validated against (with the file's number of classes if detected). */
  public NFNetConfig config() {
    return config;
  }

  public HaikuParams params() {
    return params;
  }

  /** Reader and validator warnings (dtype conversions, unused entries). */
  public List<String> warnings() {
    return warnings;
  }

  /** The variant's parameters in forward order; each is present in the file with this shape. */
  public List<ParameterSpec> parameters() {
    return new ArrayList<>(NFNetStructure.parameters(config));
  }

  public ParamArray array(ParameterSpec spec) {
    ParamArray a = params.get(spec.haikuKey());
    if (a == null) {
      throw new IllegalArgumentException(spec.haikuKey() + " is not a parameter of " + config.name());
    }
    return a;
  }

  /**
   * Copies one parameter as native-order float32 into {@code dst} (advancing it by size x 4 bytes)
   * and checks the copied values.
   *
   * @throws WeightFileException if the values contain NaN or Inf
   */
  public void copyFloat32(ParameterSpec spec, ByteBuffer dst) {
    ParamArray a = array(spec);
    ByteBuffer written = dst.slice();
    a.copyAsFloat32(dst);
    written.limit((int) a.float32ByteLength());
    NonFiniteScan.Result r = NonFiniteScan.scan(written);
    if (!r.clean()) {
      throw new WeightFileException(params.file(), "parameter " + a.haikuKey() + " contains "
          + r.nanCount() + " NaN and " + r.infCount() + " infinite value(s) (first at flat index "
          + r.firstIndex() + ")");
    }
  }

  /**
   * Parameter values as TF tensors, read from the file one parameter per call: a new tensor of the
   * parameter's shape is allocated and the file bytes are read straight into its memory (see
   * {@link TensorMemory}), then NaN/Inf-checked there ({@link #copyFloat32}). The caller owns and
   * closes the tensor. Nothing else is kept, so an exporter that closes each tensor before asking
   * for the next (as {@code NFNetExporter} does) holds the parameters in flight and never a
   * Java-side copy of the file. If TF Java does not expose tensor memory, the values go through
   * one reusable direct buffer sized for the largest parameter instead.
   *
   * @throws WeightFileException (from the function) for NaN/Inf values, naming the parameter
   */
  public Function<ParameterSpec, TFloat32> float32Tensors() {
    ByteBuffer[] scratch = {null};
    return spec -> {
      TFloat32 t = TFloat32.tensorOf(Shape.of(spec.shape()));
      try {
        var memory = TensorMemory.writableBytes(t);
        if (memory.isPresent()) {
          copyFloat32(spec, memory.get());
          return t;
        }
        if (scratch[0] == null) {
          long largest = parameters().stream().mapToLong(ParameterSpec::size).max().orElse(1);
          scratch[0] = ByteBuffer.allocateDirect(Math.toIntExact(Math.max(largest, 1) * Float.BYTES))
              .order(ByteOrder.nativeOrder());
        }
        ByteBuffer b = scratch[0].clear();
        copyFloat32(spec, b);
        b.flip();
        t.copyFrom(DataBuffers.of(b.asFloatBuffer()));
        return t;
      } catch (RuntimeException | Error e) {
        t.close();
        throw e;
      }
    };
  }

  @Override
  public void close() throws IOException {
    params.close();
  }
}
