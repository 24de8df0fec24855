package org.nfnet.zoo.graph;

import java.nio.FloatBuffer;
import java.util.Map;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * Parameters baked into the graph as constants, keyed by Haiku key ({@code module/name}).
 *
 * <p>For small models and checks only: constants live in the GraphDef, which protobuf caps at
 * 2 GB, so big models use {@link VariableParameters}.
 */
public final class ConstantParameters implements ParameterSource {
  private final Map<String, FloatBuffer> values;

  public ConstantParameters(Map<String, FloatBuffer> values) {
    this.values = values;
  }

  @Override
  public Operand<TFloat32> get(Ops module, ParameterSpec spec, ParameterInit init) {
    FloatBuffer v = values.get(spec.haikuKey());
    if (v == null) {
      throw new IllegalArgumentException("no value for parameter " + spec.haikuKey()
          + " (expected shape " + spec.shapeString() + ")");
    }
    if (v.remaining() != spec.size()) {
      throw new IllegalArgumentException("parameter " + spec.haikuKey() + " has " + v.remaining()
          + " values, expected " + spec.size() + " for shape " + spec.shapeString());
    }
    return module.withName(spec.name()).constant(Shape.of(spec.shape()),
        DataBuffers.of(v.duplicate()));
  }
}
