package org.nfnet.zoo.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nfnet.zoo.Activation;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * {@link RecomputedGelu}: the gradient equals the derivative of jax's tanh GELU (worked out by hand
 * below, in double, from the tanh form rather than the sigmoid form the code uses), the forward
 * value is bit-identical to the plain op chain, the backward pass reads none of the forward
 * intermediates (the point of it), and other {@code IdentityN} ops keep identity gradients.
 */
class RecomputedGeluTest {
  private static final int N = 4096;

  @Test
  void gradientIsTheTanhGeluDerivative() {
    float[] x = random(1, 4.0);
    float[] w = random(2, 1.0);
    float[][] lean = gradientAndValue(x, w, true);
    float[][] plain = gradientAndValue(x, w, false);
    assertArrayEquals(plain[1], lean[1], 0f, "forward values must not change");
    double worst = 0;
    for (int i = 0; i < N; i++) {
      double expected = w[i] * geluTanhDerivative(x[i]);
      worst = Math.max(worst, Math.abs(lean[0][i] - expected) / (1e-3 + Math.abs(expected)));
    }
    System.out.printf("recomputed GELU gradient: worst relative error %.2e%n", worst);
    assertTrue(worst < 2e-5, "worst relative error " + worst);
  }

  /** Two GELUs in one name scope (TF names the second {@code gelu_recomputed_1}): both count. */
  @Test
  void composedGelusInOneScopeChainTheirDerivatives() {
    float[] x = random(4, 3.0);
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> in = tf.identity(tf.constant(x));
      Operand<TFloat32> y = Activations.unscaled(tf, Activation.GELU,
          Activations.unscaled(tf, Activation.GELU, in, true), true);
      Operand<TFloat32> loss = tf.reduceSum(y, tf.constant(0));
      Output<?>[] grad = g.addGradients(loss.asOutput(), new Output<?>[] {in.asOutput()});
      try (Result r = s.runner().fetch(grad[0]).run()) {
        float[] got = values((TFloat32) r.get(0));
        double worst = 0;
        for (int i = 0; i < N; i++) {
          double expected = geluTanhDerivative(geluTanh(x[i])) * geluTanhDerivative(x[i]);
          worst = Math.max(worst, Math.abs(got[i] - expected) / (1e-3 + Math.abs(expected)));
        }
        assertTrue(worst < 5e-5, "worst relative error " + worst);
      }
    }
  }

  @Test
  void backwardPassReadsOnlyTheInput() {
    assertEquals(List.of(), forwardOpsReadByGradients(true));
    // The plain chain's gradient reads its intermediates: the check above can fail.
    assertFalse(forwardOpsReadByGradients(false).isEmpty());
  }

  @Test
  void otherIdentityNOpsPassGradientsThrough() {
    assertTrue(RecomputedGelu.available());
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> a = tf.identity(tf.constant(new float[] {1f, -2f}));
      Operand<TFloat32> b = tf.identity(tf.constant(new float[] {3f}));
      GraphOperation id = (GraphOperation) tf.scope().opBuilder("IdentityN", "plain")
          .addInputList(new Output<?>[] {a.asOutput(), b.asOutput()}).build();
      @SuppressWarnings("unchecked")
      Operand<TFloat32> o0 = (Operand<TFloat32>) (Object) id.output(0);
      @SuppressWarnings("unchecked")
      Operand<TFloat32> o1 = (Operand<TFloat32>) (Object) id.output(1);
      Operand<TFloat32> loss = tf.math.add(
          tf.reduceSum(tf.math.mul(o0, tf.constant(2f)), tf.constant(0)),
          tf.reduceSum(tf.math.mul(o1, tf.constant(5f)), tf.constant(0)));
      Output<?>[] grads = g.addGradients(loss.asOutput(),
          new Output<?>[] {a.asOutput(), b.asOutput()});
      try (Result r = s.runner().fetch(grads[0]).fetch(grads[1]).run()) {
        assertArrayEquals(new float[] {2f, 2f}, values((TFloat32) r.get(0)), 0f);
        assertArrayEquals(new float[] {5f}, values((TFloat32) r.get(1)), 0f);
      }
    }
  }

  private static double geluTanh(double x) {
    return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  }

  /** d/dx of 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  private static double geluTanhDerivative(double x) {
    double k = Math.sqrt(2 / Math.PI);
    double t = Math.tanh(k * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
  }

  /** {gradient of sum(w * gelu(x)) w.r.t. x, gelu(x)}. */
  private static float[][] gradientAndValue(float[] x, float[] w, boolean differentiated) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> in = tf.identity(tf.constant(x));
      Operand<TFloat32> y = Activations.unscaled(tf, Activation.GELU, in, differentiated);
      Operand<TFloat32> loss = tf.reduceSum(tf.math.mul(y, tf.constant(w)), tf.constant(0));
      Output<?>[] grad = g.addGradients(loss.asOutput(), new Output<?>[] {in.asOutput()});
      try (Result r = s.runner().fetch(grad[0]).fetch(y).run()) {
        return new float[][] {values((TFloat32) r.get(0)), values((TFloat32) r.get(1))};
      }
    }
  }

  /** Forward ops of the GELU (other than its input) that some gradient op reads. */
  private static List<String> forwardOpsReadByGradients(boolean differentiated) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> in = tf.identity(tf.constant(random(3, 1.0)));
      Operand<TFloat32> y = Activations.unscaled(tf, Activation.GELU, in, differentiated);
      List<GraphOperation> forward = new ArrayList<>();
      for (Iterator<GraphOperation> it = g.operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        if (!op.type().equals("Const") && !op.name().equals(in.op().name())) {
          forward.add(op);
        }
      }
      Operand<TFloat32> loss = tf.reduceSum(tf.math.square(y), tf.constant(0));
      g.addGradients(loss.asOutput(), new Output<?>[] {in.asOutput()});
      List<String> read = new ArrayList<>();
      for (GraphOperation op : forward) {
        for (GraphOperation c : op.consumers()) {
          if (c.name().startsWith("gradients") && !op.type().equals("IdentityN")) {
            read.add(op.type() + " " + op.name() + " -> " + c.name());
          }
        }
      }
      return read;
    }
  }

  private static float[] random(long seed, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[N];
    for (int i = 0; i < N; i++) {
      v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
    }
    return v;
  }

  private static float[] values(TFloat32 t) {
    float[] a = new float[(int) t.size()];
    t.asRawTensor().data().asFloats().read(a);
    return a;
  }
}
