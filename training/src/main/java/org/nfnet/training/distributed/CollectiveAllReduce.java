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
 * gradients of the replica-mean loss, divide by the world size ({@link #reduce} with
 * {@code final_op = Div} does both in the collective), then AGC-clip and apply the update
 * identically on every replica.
 */
public final class CollectiveAllReduce {

  /** Per-call settings. */
  public static final class Options {
    private float timeoutSeconds;
    private String communicationHint = "auto";
    private long packBelow;

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
     * {@code true}: concatenates all (flattened) tensors into one and launches a single
     * collective, then splits the result back. Same as {@code packSmallerThan(Long.MAX_VALUE)}.
     */
    public Options packed(boolean packed) {
      this.packBelow = packed ? Long.MAX_VALUE : 0;
      return this;
    }

    /**
     * Packs only the tensors whose static element count is known and below {@code elements}
     * into one collective; larger ones (or of unknown shape) get their own. Why: each collective
     * has a fixed latency, which dominates for small tensors, while for large ones the concat and
     * split copies cost more than they save; a threshold around 1M elements suits NFNets
     * (BENCHMARKS.md, "Distributed").
     */
    public Options packSmallerThan(long elements) {
      this.packBelow = Math.max(0, elements);
      return this;
    }

    boolean packs(Operand<?> t) {
      if (packBelow == 0) {
        return false;
      }
      if (packBelow == Long.MAX_VALUE) {
        return true;
      }
      org.tensorflow.ndarray.Shape shape = t.shape();
      return !shape.isUnknown() && !shape.hasUnknownDimension() && shape.size() < packBelow;
    }

    public float timeoutSeconds() {
      return timeoutSeconds;
    }

    public String communicationHint() {
      return communicationHint;
    }

    /** Tensors with fewer elements than this are packed (0: none). */
    public long packBelow() {
      return packBelow;
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
   * in {@code [instanceKeyBase, instanceKeyBase + grads.size()]} (the last one for the packed
   * tensor), so successive calls in one graph need bases at least {@code grads.size() + 1}
   * apart.
   */
  public static List<Operand<TFloat32>> sum(
      Ops tf,
      List<Operand<TFloat32>> grads,
      int groupSize,
      int groupKey,
      int instanceKeyBase,
      Options options) {
    if (groupSize < 1) {
      throw new IllegalArgumentException("groupSize must be >= 1: " + groupSize);
    }
    if (grads.isEmpty()) {
      return List.of();
    }
    Ops scoped = tf.withSubScope("all_reduce_" + groupKey + "_" + instanceKeyBase);
    List<Operand<TFloat32>> out = new ArrayList<>(grads.size());
    List<Integer> small = new ArrayList<>();
    for (int i = 0; i < grads.size(); i++) {
      out.add(null);
      if (options.packs(grads.get(i))) {
        small.add(i);
      }
    }
    if (small.size() < 2) {
      small.clear();
    }
    for (int i = 0; i < grads.size(); i++) {
      if (!small.contains(i)) {
        out.set(i, reduce(scoped, grads.get(i), groupSize, groupKey, instanceKeyBase + i, "Add",
            "Id", options));
      }
    }
    if (small.isEmpty()) {
      return out;
    }
    Ops packScope = scoped.withSubScope("packed");
    List<Operand<TFloat32>> flat = new ArrayList<>(small.size());
    List<Operand<TInt32>> shapes = new ArrayList<>(small.size());
    List<Operand<TInt32>> sizes = new ArrayList<>(small.size());
    Operand<TInt32> minusOne = packScope.constant(new int[] {-1});
    for (int i : small) {
      Operand<TFloat32> g = grads.get(i);
      flat.add(packScope.reshape(g, minusOne));
      shapes.add(packScope.shape(g));
      sizes.add(packScope.reshape(packScope.size(g), minusOne));
    }
    Operand<TFloat32> packed = packScope.concat(flat, packScope.constant(0));
    Operand<TFloat32> reduced = reduce(packScope, packed, groupSize, groupKey,
        instanceKeyBase + grads.size(), "Add", "Id", options);
    Operand<TInt32> splitSizes = packScope.concat(sizes, packScope.constant(0));
    List<Output<TFloat32>> parts =
        packScope.splitV(reduced, splitSizes, packScope.constant(0), (long) small.size()).output();
    for (int k = 0; k < small.size(); k++) {
      out.set(small.get(k), packScope.reshape(parts.get(k), shapes.get(k)));
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
