package org.nfnet.zoo.graph;

import java.util.List;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * Builds the NFNet forward graph (NHWC, float32) with TF Java ops, mirroring DeepMind's
 * {@code nfnet.NFNet.__call__}: stem of four WSConv2D (strides 2,1,1,2) with activations between
 * them, the NFBlocks, a 1x1 final conv + activation, spatial mean pool, dropout (training), and
 * the linear classifier.
 *
 * <p>Parameters come from a {@link ParameterSource}; every request uses the Haiku identity, so the
 * same builder serves random init, imported release weights, and variables restored from a
 * checkpoint.
 */
public final class NFNet {
  private final NFNetConfig config;
  private final Precision precision;

  public NFNet(NFNetConfig config) {
    this(config, Precision.FLOAT32);
  }

  public NFNet(NFNetConfig config, Precision precision) {
    this.config = config;
    this.precision = precision;
  }

  public Precision precision() {
    return precision;
  }

  public NFNetConfig config() {
    return config;
  }

  /** Builds the forward graph under the root scope of {@code tf}. */
  public NFNetOutputs build(Ops tf, Operand<TFloat32> images, ParameterSource params,
      ForwardOptions options) {
    return buildWithTrace(tf, images, params, options).outputs;
  }

  /** Result plus the parameters requested, in request order (for structure checks). */
  public Trace buildWithTrace(Ops tf, Operand<TFloat32> images, ParameterSource params,
      ForwardOptions options) {
    checkStaticInput(images);
    NFNetSegments net = segments(tf, params, options);
    Operand<TFloat32> out = images;
    for (int k = 0; k < net.count(); k++) {
      out = net.segment(k, out);
    }
    return new Trace(net.head(out), net.requested());
  }

  /**
   * The forward graph to be built segment by segment under the root scope of {@code tf} (see
   * {@link NFNetSegments}): what activation recomputation needs.
   */
  public NFNetSegments segments(Ops tf, ParameterSource params, ForwardOptions options) {
    return new NFNetSegments(new BuildContext(tf, config, params, options, precision));
  }

  private void checkStaticInput(Operand<TFloat32> images) {
    var shape = images.shape();
    if (shape.numDimensions() != 4) {
      throw new IllegalArgumentException("NFNet input must be NHWC rank 4, got shape " + shape);
    }
    if (shape.size(3) != 3 && shape.size(3) != -1) {
      throw new IllegalArgumentException("NFNet input must have 3 channels, got shape " + shape);
    }
    long h = shape.size(1);
    long w = shape.size(2);
    if (h > 0 && w > 0) {
      NFNetStructure.checkInputSize(config, h, w);
    }
  }

  /** Forward outputs plus the ordered list of parameters the graph requested. */
  public record Trace(NFNetOutputs outputs, List<ParameterSpec> parameters) {}
}
