package org.nfnet.training.distributed;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.Scope;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TNumber;

/**
 * In-graph all-reduce of gradients with TensorFlow's {@code CollectiveReduceV2} op (TF Java 1.1
 * generates no wrapper for it; its {@code CollectiveReduce} class is the communicator-based V3).
 *
 * <p>Every participant (task or local device) builds the same calls with the same
 * {@code groupSize}, {@code groupKey} and instance keys, under its own device scope
 * ({@code tf.withDevice(ClusterSpec.cpu(task))}, or a local {@code /device:CPU:i}); the ops of one
 * call on all participants form one collective. Instance keys {@code instanceKeyBase + i} must be
 * unique per group within the graph; the same graph can be run for any number of steps.
 *
 * <p>The trainer pattern (as DeepMind's {@code jax.lax.psum}): {@link #sum} the per-replica
 * gradients of the replica-mean loss, divide by the world size ({@link #mean} does both in the
 * collective with {@code final_op = Div}), then AGC-clip and apply the update identically on
 * every replica.
 */
public final class CollectiveAllReduce {

  /** Per-call settings. */
  public static final class Options {
    private float timeoutSeconds;
    private String communicationHint = "auto";
    private boolean packed;

    /** Defaults: no timeout, hint "auto", one collective per tensor. */
    public static Options defaults() {
      return new Options();
    }

    /**
     * Per-collective timeout ({@code timeout_seconds} attr): a step waiting for a dead or stuck
     * peer fails with DEADLINE_EXCEEDED after this long. 0 = wait forever. It must be longer
     * than the slowest replica's forward+backward pass, as the collective starts waiting as soon
     * as the local gradient is ready.
     */
    public Options timeoutSeconds(float seconds) {
      this.timeoutSeconds = seconds;
      return this;
    }

    /**
     * {@code "auto"} (ring on CPU, NCCL on GPU when the NCCL collective executor is linked),
     * {@code "ring"} or {@code "nccl"}.
     */
    public Options communicationHint(String hint) {
      this.communicationHint = hint;
      return this;
    }

    /**
     * Concatenates all (flattened) tensors into one and launches a single collective, then
     * splits the result back: fewer launches for many small gradients, one extra copy each way.
     */
    public Options packed(boolean packed) {
      this.packed = packed;
      return this;
    }

    public float timeoutSeconds() {
      return timeoutSeconds;
    }

    public String communicationHint() {
      return communicationHint;
    }

    public boolean packed() {
      return packed;
    }
  }

  private CollectiveAllReduce() {}

  /** {@link #sum(Ops, List, int, int, int, Options)} with defaults. */
  public static List<Operand<TFloat32>> sum(
      Ops tf, List<Operand<TFloat32>> grads, int groupSize, int groupKey, int instanceKeyBase) {
    return sum(tf, grads, groupSize, groupKey, instanceKeyBase, Options.defaults());
  }

  /**
   * Element-wise sum over the {@code groupSize} participants of each tensor. Uses instance keys
   * {@code instanceKeyBase .. instanceKeyBase + grads.size() - 1} (only {@code instanceKeyBase}
   * when packed).
   */
  public static List<Operand<TFloat32>> sum(
      Ops tf,
      List<Operand<TFloat32>> grads,
      int groupSize,
      int groupKey,
      int instanceKeyBase,
      Options options) {
    return allReduce(tf, grads, groupSize, groupKey, instanceKeyBase, "Add", "Id", options);
  }

  /** Element-wise mean over the participants ({@code final_op = Div} by the group size). */
  public static List<Operand<TFloat32>> mean(
      Ops tf,
      List<Operand<TFloat32>> grads,
      int groupSize,
      int groupKey,
      int instanceKeyBase,
      Options options) {
    return allReduce(tf, grads, groupSize, groupKey, instanceKeyBase, "Add", "Div", options);
  }

  private static List<Operand<TFloat32>> allReduce(
      Ops tf,
      List<Operand<TFloat32>> grads,
      int groupSize,
      int groupKey,
      int instanceKeyBase,
      String mergeOp,
      String finalOp,
      Options options) {
    if (groupSize < 1) {
      throw new IllegalArgumentException("groupSize must be >= 1: " + groupSize);
    }
    if (grads.isEmpty()) {
      return List.of();
    }
    Ops scoped = tf.withSubScope("all_reduce_" + groupKey + "_" + instanceKeyBase);
    List<Operand<TFloat32>> out = new ArrayList<>(grads.size());
    if (!options.packed() || grads.size() == 1) {
      for (int i = 0; i < grads.size(); i++) {
        out.add(
            reduce(scoped, grads.get(i), groupSize, groupKey, instanceKeyBase + i, mergeOp,
                finalOp, options));
      }
      return out;
    }
    List<Operand<TFloat32>> flat = new ArrayList<>(grads.size());
    List<Operand<TInt32>> shapes = new ArrayList<>(grads.size());
    List<Operand<TInt32>> sizes = new ArrayList<>(grads.size());
    Operand<TInt32> minusOne = scoped.constant(new int[] {-1});
    for (Operand<TFloat32> g : grads) {
      flat.add(scoped.reshape(g, minusOne));
      shapes.add(scoped.shape(g));
      sizes.add(scoped.size(g));
    }
    Operand<TFloat32> packed = scoped.concat(flat, scoped.constant(0));
    Operand<TFloat32> reduced =
        reduce(scoped, packed, groupSize, groupKey, instanceKeyBase, mergeOp, finalOp, options);
    Operand<TInt32> splitSizes = scoped.concat(
        sizes.stream().<Operand<TInt32>>map(s -> scoped.reshape(s, minusOne)).toList(),
        scoped.constant(0));
    List<Output<TFloat32>> parts =
        scoped.splitV(reduced, splitSizes, scoped.constant(0), (long) grads.size()).output();
    for (int i = 0; i < grads.size(); i++) {
      out.add(scoped.reshape(parts.get(i), shapes.get(i)));
    }
    return out;
  }

  /**
   * One raw {@code CollectiveReduceV2} in the device scope of {@code tf}.
   *
   * @param mergeOp "Add", "Mul", "Min" or "Max"
   * @param finalOp "Id" or "Div" (divide by the group size)
   */
  public static <T extends TNumber> Operand<T> reduce(
      Ops tf,
      Operand<T> input,
      int groupSize,
      int groupKey,
      int instanceKey,
      String mergeOp,
      String finalOp,
      Options options) {
    Scope scope = tf.scope();
    Output<TInt32> size = tf.constant(groupSize).asOutput();
    Output<TInt32> group = tf.constant(groupKey).asOutput();
    Output<TInt32> instance = tf.constant(instanceKey).asOutput();
    return scope
        .opBuilder("CollectiveReduceV2", "CollectiveReduceV2")
        .addInput(input.asOutput())
        .addInput(size)
        .addInput(group)
        .addInput(instance)
        .addInputList(new Output<?>[0])
        .setAttr("merge_op", mergeOp)
        .setAttr("final_op", finalOp)
        .setAttr("communication_hint", options.communicationHint())
        .setAttr("timeout_seconds", options.timeoutSeconds())
        .build()
        .<T>output(0);
  }
}
