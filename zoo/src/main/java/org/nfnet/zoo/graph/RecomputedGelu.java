package org.nfnet.zoo.graph;

import java.util.List;
import java.util.regex.Pattern;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.TensorFlow;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * The tanh-approximated GELU of a training graph, with a backward pass that keeps only the
 * activation's input alive and recomputes the rest.
 *
 * <p>Why: {@code Graph.addGradients} differentiates {@link Activations#geluTanh} op by op, and the
 * gradients of its multiplies and sigmoid read the forward intermediates ({@code c1 + c2 x^2},
 * {@code sigmoid(z)}), so every GELU of the network holds three activation-sized tensors until
 * the backward pass reaches it. In an F0 training step at batch 8 that is most of the step's
 * working set (BENCHMARKS.md, "Training memory"). PyTorch's fused GELU keeps only {@code x}; this
 * does the same in graph mode: the forward value is the usual op chain behind a
 * {@code StopGradient}, paired with {@code x} in an {@code IdentityN} whose gradient
 * {@code dy * gelu'(x)} is computed from {@code x} in the backward pass (a handful of element-wise
 * ops, cheap next to the convolutions). Forward values are bit-identical to the plain form;
 * gradients agree to float32 rounding. Every op involved has an XLA kernel.
 *
 * <p>TF Java registers custom gradients per op type and process-wide, and TF has no C++ gradient
 * for {@code IdentityN}: the one registered here passes gradients through unchanged (the exact
 * gradient of an identity) for every {@code IdentityN} except the ones this class and
 * {@link LeanWSConv2D} name. If
 * another gradient was registered first, {@link #available()} is false and callers fall back to
 * the plain form.
 */
final class RecomputedGelu {
  /** Name of the {@code IdentityN} ops whose gradient is the GELU's. */
  static final String OP_NAME = "gelu_recomputed";
  private static final String OP_TYPE = "IdentityN";
  /** {@link #OP_NAME} in any scope, with the {@code _N} suffix TF adds to repeated names. */
  private static final Pattern OURS = Pattern.compile("(.*/)?" + OP_NAME + "(_\\d+)?");
  private static Boolean registered;

  private RecomputedGelu() {}

  /** Whether the gradient is registered (once per process). */
  static synchronized boolean available() {
    if (registered == null) {
      registered = TensorFlow.registerCustomGradient(OP_TYPE, RecomputedGelu::gradient);
    }
    return registered;
  }

  /**
   * {@code gelu(x)} with the recomputing backward pass.
   *
   * @param y {@code gelu(x)}, already built from {@code x}
   */
  static Operand<TFloat32> wrap(Ops tf, Operand<TFloat32> y, Operand<TFloat32> x) {
    Output<?>[] inputs = {tf.stopGradient(y).asOutput(), x.asOutput()};
    GraphOperation op = (GraphOperation) tf.scope().opBuilder(OP_TYPE, OP_NAME)
        .addInputList(inputs).build();
    @SuppressWarnings("unchecked")
    Operand<TFloat32> out = (Operand<TFloat32>) (Object) op.output(0);
    return out;
  }

  /** {@code x}'s input when {@code x} is the output of {@link #wrap}, else null. */
  static Operand<TFloat32> input(Operand<TFloat32> x) {
    Output<TFloat32> out = x.asOutput();
    if (out.index() != 0 || !(out.op() instanceof GraphOperation op) || !OP_TYPE.equals(op.type())
        || !isOurs(op)) {
      return null;
    }
    @SuppressWarnings("unchecked")
    Operand<TFloat32> in = (Operand<TFloat32>) op.input(1);
    return in;
  }

  private static List<Operand<?>> gradient(Ops tf, GraphOperation op, List<Output<?>> dys) {
    if (LeanWSConv2D.isOurs(op)) {
      return LeanWSConv2D.gradient(tf, op, dys);
    }
    if (!isOurs(op)) {
      return List.copyOf(dys);
    }
    @SuppressWarnings("unchecked")
    Operand<TFloat32> dy = (Operand<TFloat32>) dys.get(0);
    @SuppressWarnings("unchecked")
    Operand<TFloat32> x = (Operand<TFloat32>) op.input(1);
    // The first input is the StopGradient'ed value: whatever it gets goes no further.
    return List.of(dy, tf.math.mul(dy, slope(tf, x)));
  }

  /**
   * {@code gelu'(x)}: with {@code s = sigmoid(z)}, {@code z = x (c1 + c2 x^2)}
   * ({@link Activations#geluTanh}), {@code gelu'(x) = s + x s (1 - s) z'},
   * {@code z' = c1 + 3 c2 x^2}.
   */
  static Operand<TFloat32> slope(Ops tf, Operand<TFloat32> x) {
    Operand<TFloat32> x2 = tf.math.square(x);
    Operand<TFloat32> s = tf.math.sigmoid(tf.math.mul(x,
        tf.math.add(tf.math.mul(x2, tf.constant(Activations.GELU_C2)),
            tf.constant(Activations.GELU_C1))));
    Operand<TFloat32> dz = tf.math.add(tf.math.mul(x2, tf.constant(3 * Activations.GELU_C2)),
        tf.constant(Activations.GELU_C1));
    return tf.math.add(s, tf.math.mul(tf.math.mul(x, dz), tf.math.sub(s, tf.math.square(s))));
  }

  private static boolean isOurs(GraphOperation op) {
    return op.numInputs() == 2 && OURS.matcher(op.name()).matches();
  }
}
