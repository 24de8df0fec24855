package org.nfnet.zoo.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.nfnet.zoo.NFNetConfig;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * {@link LeanWSConv2D}: every parameter's gradient equals TF's autodiff of the element-wise
 * standardization (the paper's formula, differentiated op by op) in float32, is as close to it in
 * bf16 as bf16 autodiff is, and no gradient op reads a float32 standardized kernel or GELU output
 * a convolution reads (the point of it; the reference graph's gradients do, so the check can
 * fail). In bf16 the gradients read the bf16 casts the convolutions read and recompute nothing.
 */
class LeanWSConv2DTest {
  private static final NFNetConfig NET = NFNetGraphTest.TINY;

  @Test
  void float32GradientsMatchAutodiffOfTheElementWiseForm() {
    double worst = worstError(gradients(Precision.FLOAT32, true),
        gradients(Precision.FLOAT32, false));
    System.out.printf("lean float32 gradients: worst error %.2e of the largest entry%n", worst);
    // Fused against element-wise standardization (different float32 reduction orders), and
    // matrix products against TF's own gradient products: float32 rounding.
    assertTrue(worst < 1e-4, "worst error " + worst);
  }

  /**
   * bf16 products round differently wherever two float32 kernels round to different bf16 values,
   * so both bf16 backward passes are measured against the float32 reference and the lean one may
   * not be farther: in the median over parameters, and in the worst tensor (scalars left out:
   * a skip gain's gradient is a sum with cancellations, 5e-4 or 0.4 off by chance).
   */
  @Test
  void bfloat16GradientsAreAsCloseToFloat32AsAutodiffs() {
    List<float[]> exact = gradients(Precision.FLOAT32, false);
    double[] lean = errors(gradients(Precision.BFLOAT16, true), exact);
    double[] autodiff = errors(gradients(Precision.BFLOAT16, false), exact);
    double[] median = {median(lean), median(autodiff)};
    double[] worst = {worstTensor(lean, exact), worstTensor(autodiff, exact)};
    System.out.printf("bf16 gradients against float32, lean / autodiff: median %.2e / %.2e, "
        + "worst tensor %.2e / %.2e%n", median[0], median[1], worst[0], worst[1]);
    assertTrue(median[0] < 1.25 * median[1], "median " + median[0] + " / " + median[1]);
    assertTrue(worst[0] < 1.5 * worst[1], "worst tensor " + worst[0] + " / " + worst[1]);
  }

  @Test
  void float32BackwardPassReadsNoGeluOutputAndNoStandardizedKernel() {
    assertEquals(List.of(), forwardTensorsReadByGradients(Precision.FLOAT32, true));
    assertFalse(forwardTensorsReadByGradients(Precision.FLOAT32, false).isEmpty());
  }

  /**
   * In bf16 the backward pass reads the forward convolutions' bf16 casts of their kernels and
   * inputs, and nothing float32 of what they read; it runs no standardization and no GELU again
   * (float32 runs one standardization per convolution, so the count can fail).
   */
  @Test
  void bfloat16BackwardPassReadsTheForwardCastsAndRecomputesNothing() {
    List<String> read = forwardTensorsReadByGradients(Precision.BFLOAT16, true);
    assertFalse(read.isEmpty());
    for (String r : read) {
      assertTrue(r.startsWith("bf16 "), r);
    }
    assertEquals(0, gradientOps(Precision.BFLOAT16, "FusedBatchNormV3"));
    assertTrue(gradientOps(Precision.FLOAT32, "FusedBatchNormV3") > 0);
    // A GELU's slope takes one sigmoid, recomputing the GELU another (float32 does both).
    int bf16 = gradientOps(Precision.BFLOAT16, "Sigmoid");
    int fp32 = gradientOps(Precision.FLOAT32, "Sigmoid");
    assertTrue(bf16 > 0 && bf16 < fp32, bf16 + " sigmoids in bf16, " + fp32 + " in float32");
  }

  /** Max over parameters of max |got - expected| / max |expected|. */
  private static double worstError(List<float[]> got, List<float[]> expected) {
    return Arrays.stream(errors(got, expected)).max().orElseThrow();
  }

  /** Per parameter, max |got - expected| / max |expected|. */
  private static double[] errors(List<float[]> got, List<float[]> expected) {
    assertEquals(expected.size(), got.size());
    double[] errors = new double[got.size()];
    for (int i = 0; i < got.size(); i++) {
      double max = 0;
      double err = 0;
      for (int j = 0; j < got.get(i).length; j++) {
        max = Math.max(max, Math.abs(expected.get(i)[j]));
        err = Math.max(err, Math.abs(got.get(i)[j] - expected.get(i)[j]));
      }
      // Every parameter of the network gets a gradient (skip gains are set non-zero below).
      assertTrue(max > 0, "parameter " + i + " has a zero gradient");
      errors[i] = err / max;
    }
    return errors;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  private static double worstTensor(double[] errors, List<float[]> shapes) {
    double worst = 0;
    for (int i = 0; i < errors.length; i++) {
      if (shapes.get(i).length > 1) {
        worst = Math.max(worst, errors[i]);
      }
    }
    return worst;
  }

  /** Gradients of sum(logits * r) w.r.t. every parameter, in creation order. */
  private static List<float[]> gradients(Precision p, boolean lean) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      VariableParameters vp = new VariableParameters();
      Operand<TFloat32> images = tf.math.cos(tf.math.mul(tf.dtypes.cast(
          tf.range(tf.constant(0), tf.constant(2 * 32 * 32 * 3), tf.constant(1)), TFloat32.class),
          tf.constant(0.37f)));
      images = tf.reshape(images, tf.constant(new long[] {2, 32, 32, 3}));
      NFNetOutputs out = new NFNet(NET, p).build(tf, images, vp, options(lean));
      Operand<TFloat32> weights = tf.math.sin(tf.dtypes.cast(tf.range(tf.constant(0),
          tf.constant(2 * NET.numClasses()), tf.constant(1)), TFloat32.class));
      Operand<TFloat32> loss = tf.reduceSum(tf.math.mul(out.logits(),
          tf.reshape(weights, tf.constant(new long[] {2, NET.numClasses()}))),
          tf.constant(new int[] {0, 1}));
      List<VariableParameters.Entry> entries = vp.entries();
      Output<?>[] xs = new Output<?>[entries.size()];
      for (int i = 0; i < xs.length; i++) {
        xs[i] = entries.get(i).read().asOutput();
      }
      Output<?>[] grads = g.addGradients(loss.asOutput(), xs);
      s.run(vp.initializer(tf, tf.constant(new long[] {5, 9})));
      // Skip gains start at zero, which would zero every gradient inside the blocks.
      List<Op> gains = new ArrayList<>();
      for (VariableParameters.Entry e : entries) {
        if (e.spec().name().equals("skip_gain")) {
          gains.add(tf.assign(e.variable(), tf.constant(0.7f)));
        }
      }
      s.run(tf.withControlDependencies(gains).noOp());
      Session.Runner r = s.runner();
      for (Output<?> grad : grads) {
        r.fetch(grad);
      }
      List<float[]> values = new ArrayList<>();
      try (Result res = r.run()) {
        for (int i = 0; i < grads.length; i++) {
          TFloat32 t = (TFloat32) res.get(i);
          float[] v = new float[(int) t.size()];
          t.asRawTensor().data().asFloats().read(v);
          values.add(v);
        }
      }
      return values;
    }
  }

  private static ForwardOptions options(boolean lean) {
    return ForwardOptions.inference().differentiated(true).withFusedStandardization(lean);
  }

  /**
   * Forward tensors that gradient ops read among the GELU outputs ({@link RecomputedGelu}'s) and
   * the standardized kernels (what a convolution reads as its filter, or its bf16 cast), seen
   * through {@code StopGradient}s; a bf16 tensor's entry starts with {@code "bf16 "}.
   */
  private static List<String> forwardTensorsReadByGradients(Precision p, boolean lean) {
    try (Graph g = differentiated(p, lean)) {
      Set<String> watched = new HashSet<>();
      for (Iterator<GraphOperation> it = g.operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        if (op.name().startsWith("gradients")) {
          continue;
        }
        // Every convolution's kernel as the product reads it (the squeeze-excite and classifier
        // matrices are plain parameters), and a GELU output it reads, possibly reshaped or cast,
        // together with the GELU output itself.
        if (op.type().equals("Conv2D") || op.type().equals("MatMul")) {
          if (!op.input(1).op().name().contains("linear")) {
            watchWithCastsAndReshapes(op.input(1), watched);
          }
          if (fromGelu((GraphOperation) op.input(0).op(), 3)) {
            watchWithCastsAndReshapes(op.input(0), watched);
          }
        }
      }
      List<String> read = new ArrayList<>();
      for (Iterator<GraphOperation> it = g.operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        if (!op.name().startsWith("gradients") || op.type().equals("Shape")) {
          continue;
        }
        for (int i = 0; i < op.numInputs(); i++) {
          Output<?> in = op.input(i);
          while (in.op().type().equals("StopGradient")) {
            in = ((GraphOperation) in.op()).input(0);
          }
          String name = in.op().name() + ":" + in.index();
          if (watched.contains(name)) {
            String type = in.dataType() == org.tensorflow.proto.DataType.DT_BFLOAT16 ? "bf16 "
                : "";
            read.add(type + name + " -> " + op.type() + " " + op.name());
          }
        }
      }
      return read;
    }
  }

  /** {@code t} and what it was reshaped or cast from, up to a GELU's {@code IdentityN}. */
  private static void watchWithCastsAndReshapes(Output<?> t, Set<String> watched) {
    Output<?> in = t;
    while (true) {
      watched.add(in.op().name() + ":" + in.index());
      String type = in.op().type();
      if (!type.equals("Reshape") && !type.equals("Cast")) {
        return;
      }
      in = ((GraphOperation) in.op()).input(0);
    }
  }

  /** A lean (or autodiff) training graph of the tiny net: zero images, gradients of the logits. */
  private static Graph differentiated(Precision p, boolean lean) {
    Graph g = new Graph();
    Ops tf = Ops.create(g);
    VariableParameters vp = new VariableParameters();
    Operand<TFloat32> images = tf.zeros(tf.constant(new long[] {2, 32, 32, 3}), TFloat32.class);
    NFNetOutputs out = new NFNet(NET, p).build(tf, images, vp, options(lean));
    List<VariableParameters.Entry> entries = vp.entries();
    Output<?>[] xs = new Output<?>[entries.size()];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = entries.get(i).read().asOutput();
    }
    g.addGradients(tf.reduceSum(out.logits(), tf.constant(new int[] {0, 1})).asOutput(), xs);
    return g;
  }

  /** Ops of {@code type} in the gradient graph of a lean training graph of precision {@code p}. */
  private static int gradientOps(Precision p, String type) {
    try (Graph g = differentiated(p, true)) {
      int n = 0;
      for (Iterator<GraphOperation> it = g.operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        n += op.name().startsWith("gradients") && op.type().equals(type) ? 1 : 0;
      }
      return n;
    }
  }

  private static boolean fromGelu(GraphOperation op, int hops) {
    if (op.type().equals("IdentityN")) {
      return op.name().matches("(.*/)?gelu_recomputed(_\\d+)?");
    }
    return hops > 0 && (op.type().equals("Reshape") || op.type().equals("Cast"))
        && fromGelu((GraphOperation) op.input(0).op(), hops - 1);
  }
}
