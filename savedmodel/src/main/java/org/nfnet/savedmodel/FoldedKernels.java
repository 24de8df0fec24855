package org.nfnet.savedmodel;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ParameterInit;
import org.nfnet.zoo.graph.ParameterSource;
import org.nfnet.zoo.graph.WSConv2D;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;

/**
 * Serving-time folding of Scaled Weight Standardization.
 *
 * <p>WSConv2D's kernel {@code w_hat = standardize(w, gain * s)} ({@code s} the constant input
 * scale the graph folds into the kernel, {@link NFNetStructure#kernelInputScales}) depends on
 * parameters only, so an
 * inference export can compute it once and store it (as variable {@code .../w_hat}) in place of
 * {@code w} and {@code gain}: the serving graph then runs a plain conv2d + bias. The values are
 * computed with the very same TF ops ({@link WSConv2D#standardize}) the unfolded graph runs, in a
 * private graph, so folded and unfolded logits agree to float rounding of the conv itself.
 */
public final class FoldedKernels implements AutoCloseable {
  private final Graph graph = new Graph();
  private final Session session = new Session(graph);
  private final Map<Shape, Fold> folds = new HashMap<>();
  private final Map<String, Float> inputScales;

  private record Fold(Placeholder<TFloat32> w, Placeholder<TFloat32> gain,
      Placeholder<TFloat32> scale, Operand<TFloat32> out) {}

  /** Folds kernels of {@code config}, including each conv's input scale. */
  public FoldedKernels(NFNetConfig config) {
    this.inputScales = NFNetStructure.kernelInputScales(config);
  }

  /** A source delegating to {@code inner} that tells WSConv2D to request folded kernels. */
  public static ParameterSource source(ParameterSource inner) {
    return new ParameterSource() {
      @Override
      public Operand<TFloat32> get(Ops module, ParameterSpec spec, ParameterInit init) {
        return inner.get(module, spec, init);
      }

      @Override
      public boolean foldedKernels() {
        return true;
      }
    };
  }

  /**
   * The parameters a folded graph stores, from the raw (Haiku) ones in forward order: every
   * WSConv2D module (one with a {@code gain}) has {@code w_hat} (the shape of {@code w}) in place
   * of {@code w}, and no {@code gain}; everything else is kept. This is the order in which
   * WSConv2D requests them ({@code w_hat}, then {@code bias}).
   */
  public static List<ParameterSpec> foldedSpecs(List<ParameterSpec> raw) {
    Set<String> standardized = new HashSet<>();
    for (ParameterSpec p : raw) {
      if (p.name().equals("gain")) {
        standardized.add(p.module());
      }
    }
    List<ParameterSpec> out = new ArrayList<>(raw.size());
    for (ParameterSpec p : raw) {
      if (!standardized.contains(p.module())) {
        out.add(p);
      } else if (p.name().equals("w")) {
        out.add(new ParameterSpec(p.module(), WSConv2D.FOLDED_KERNEL, p.shape()));
      } else if (!p.name().equals("gain")) {
        out.add(p);
      }
    }
    return out;
  }

  /**
   * Haiku keys of the folded parameters a bf16 graph reads only through bf16 convolutions, which a
   * bf16 export therefore stores in bfloat16: every {@code w_hat} and the {@code bias} of its
   * convolution (the rest, squeeze-excite and classifier, runs in float32).
   */
  public static Set<String> bf16Parameters(List<ParameterSpec> folded) {
    Set<String> convs = new HashSet<>();
    for (ParameterSpec p : folded) {
      if (p.name().equals(WSConv2D.FOLDED_KERNEL)) {
        convs.add(p.module());
      }
    }
    Set<String> keys = new HashSet<>();
    for (ParameterSpec p : folded) {
      if (convs.contains(p.module())) {
        keys.add(p.haikuKey());
      }
    }
    return keys;
  }

  /**
   * Values for a folded graph from raw (Haiku) values: {@code w_hat} specs are computed from the
   * module's {@code w} and {@code gain}, everything else is passed through.
   */
  public Function<ParameterSpec, TFloat32> values(Function<ParameterSpec, TFloat32> raw) {
    return spec -> WSConv2D.FOLDED_KERNEL.equals(spec.name()) ? fold(spec, raw) : raw.apply(spec);
  }

  TFloat32 fold(ParameterSpec wHat, Function<ParameterSpec, TFloat32> raw) {
    long[] shape = wHat.shape();
    Float inputScale = inputScales.get(wHat.module());
    if (inputScale == null) {
      throw new IllegalArgumentException("no WSConv2D module " + wHat.module() + " in this variant");
    }
    Fold f = folds.computeIfAbsent(Shape.of(shape), s -> {
      Ops tf = Ops.create(graph);
      Placeholder<TFloat32> w = tf.placeholder(TFloat32.class, Placeholder.shape(s));
      Placeholder<TFloat32> gain = tf.placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(shape[3])));
      Placeholder<TFloat32> scale = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      // The same ops as the unfolded graph: gain times the input scale, then standardize.
      return new Fold(w, gain, scale, WSConv2D.standardize(tf, w, tf.math.mul(gain, scale),
          shape[0] * shape[1] * shape[2]));
    });
    try (TFloat32 w = raw.apply(new ParameterSpec(wHat.module(), "w", shape));
        TFloat32 gain = raw.apply(new ParameterSpec(wHat.module(), "gain", new long[] {shape[3]}));
        TFloat32 scale = TFloat32.scalarOf(inputScale)) {
      return (TFloat32) session.runner().feed(f.w(), w).feed(f.gain(), gain)
          .feed(f.scale(), scale).fetch(f.out()).run().get(0);
    }
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
