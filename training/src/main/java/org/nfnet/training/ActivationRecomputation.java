package org.nfnet.training;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.NFNetOutputs;
import org.nfnet.zoo.graph.NFNetSegments;
import org.nfnet.zoo.graph.ParameterInit;
import org.nfnet.zoo.graph.ParameterSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * Gradients that keep only each segment's input (the stem's and every block's) from the forward
 * pass and rebuild the segment's activations in the backward pass: gradient checkpointing
 * (Chen et al. 2016, "Training deep nets with sublinear memory cost"; PyTorch's
 * {@code torch.utils.checkpoint}), segment = one NFBlock.
 *
 * <p>How, in graph mode: the forward is built segment by segment ({@link NFNetSegments}), and
 * nothing in the backward reads its intermediates. The backward is taken in pieces with
 * {@code Graph.addGradients}: first from the loss to the last segment's output and the head's
 * parameters; then, from the last segment down, a copy of segment k is built on
 * {@code Identity}s of its input and parameter tensors that carry a control dependency on the
 * gradient w.r.t. the segment's output, and that gradient is propagated through the copy to the
 * segment's input and parameters. The control dependency keeps TF's executor from running the
 * copy before the backward pass reaches it, so at any time only one segment's activations are
 * live besides the saved inputs. The copy draws the same stochastic-depth masks: they are
 * stateless functions of the step's seed. In the forward, too, a segment's parameters wait for
 * the segment's input, so that its standardized kernels are computed when it runs, not all at the
 * start of the step.
 *
 * <p>Cost: each block's forward runs twice (about a third more work per step); memory: see
 * BENCHMARKS.md ("Activation recomputation").
 */
final class ActivationRecomputation {
  private final NFNet net;
  private final ForwardOptions options;
  private final NFNetOutputs outputs;
  /** Input of each segment: the images, then each segment's output; last: the head's input. */
  private final List<Operand<TFloat32>> inputs = new ArrayList<>();
  /** Per segment (head last), the tensor the forward got for each parameter, by Haiku key. */
  private final List<Map<String, Operand<TFloat32>>> params = new ArrayList<>();
  /** The Haiku key of each tensor the forward got from its parameter source. */
  private final Map<Output<?>, String> keyOf = new HashMap<>();
  /** The segment that requested each parameter (the head: {@code params.size() - 1}). */
  private final Map<String, Integer> segmentOfKey = new HashMap<>();

  private ActivationRecomputation(Ops tf, NFNet net, Operand<TFloat32> images,
      ParameterSource source, ForwardOptions options) {
    this.net = net;
    this.options = options;
    ParameterSource recording = new ParameterSource() {
      @Override
      public Operand<TFloat32> get(Ops module, ParameterSpec spec, ParameterInit init) {
        Operand<TFloat32> p = source.get(module, spec, init);
        params.get(params.size() - 1).put(spec.haikuKey(), p);
        keyOf.put(p.asOutput(), spec.haikuKey());
        segmentOfKey.put(spec.haikuKey(), params.size() - 1);
        // The segment uses its parameters once its input exists: what it computes from them
        // alone (standardized kernels) would otherwise be computed at the start of the step
        // and held until the segment runs.
        List<Op> input = List.of(inputs.get(inputs.size() - 1));
        return module.withControlDependencies(input).withName(spec.name() + "_when_used")
            .identity(p);
      }

      @Override
      public boolean foldedKernels() {
        return source.foldedKernels();
      }
    };
    NFNetSegments segments = net.segments(tf, recording, options);
    Operand<TFloat32> x = images;
    for (int k = 0; k < segments.count(); k++) {
      inputs.add(x);
      params.add(new LinkedHashMap<>());
      x = segments.segment(k, x);
    }
    inputs.add(x);
    params.add(new LinkedHashMap<>());
    outputs = segments.head(x);
  }

  /** Builds the forward under {@code tf}, recording what the backward pass will need. */
  static ActivationRecomputation forward(Ops tf, NFNet net, Operand<TFloat32> images,
      ParameterSource source, ForwardOptions options) {
    return new ActivationRecomputation(tf, net, images, source, options);
  }

  NFNetOutputs outputs() {
    return outputs;
  }

  /**
   * Gradients of {@code loss} w.r.t. parameters, recomputing each segment.
   *
   * @param graph the graph the forward was built in
   * @param tf scope for the recomputed segments (the forward's)
   * @param loss a scalar computed from {@link #outputs()}
   * @param wrt tensors the forward got from its parameter source
   * @return one gradient per tensor of {@code wrt}, in its order
   */
  List<Operand<TFloat32>> gradients(Graph graph, Ops tf, Operand<TFloat32> loss,
      List<Operand<TFloat32>> wrt) {
    List<String> keys = new ArrayList<>();
    for (Operand<TFloat32> p : wrt) {
      String key = keyOf.get(p.asOutput());
      if (key == null) {
        throw new IllegalArgumentException("not a parameter of the forward: "
            + p.asOutput().name());
      }
      keys.add(key);
    }
    int head = params.size() - 1;
    int[] segmentOf = new int[keys.size()];
    int lowest = head;
    for (int i = 0; i < keys.size(); i++) {
      segmentOf[i] = segmentOfKey.get(keys.get(i));
      lowest = Math.min(lowest, segmentOf[i]);
    }
    @SuppressWarnings("unchecked")
    Operand<TFloat32>[] out = new Operand[keys.size()];
    // The head is not recomputed: its activations are a few pooled-size tensors.
    Output<?> dOut = backward(graph, "gradients", List.of(loss.asOutput()), null,
        inputs.get(head), params.get(head), lowest < head, keys, segmentOf, head, out);
    for (int k = head - 1; k >= lowest; k--) {
      Ops copy = tf.withSubScope("recompute_" + k);
      List<Op> after = List.of(dOut);
      Ops gated = copy.withControlDependencies(after);
      Operand<TFloat32> x = gated.withName("input").identity(inputs.get(k));
      Map<String, Operand<TFloat32>> segmentParams = params.get(k);
      Map<String, Operand<TFloat32>> copied = new LinkedHashMap<>();
      ParameterSource again = (module, spec, init) -> {
        Operand<TFloat32> p = module.withControlDependencies(after)
            .withName(spec.name()).identity(segmentParams.get(spec.haikuKey()));
        copied.put(spec.haikuKey(), p);
        return p;
      };
      Operand<TFloat32> y = net.segments(copy, again, options).segment(k, x);
      dOut = backward(graph, "gradients_segment_" + k, List.of(y.asOutput()), dOut, x, copied,
          k > lowest, keys, segmentOf, k, out);
    }
    return List.of(out);
  }

  /**
   * Differentiates {@code ys} (seeded with {@code dy}, or ones when null) w.r.t. the parameters of
   * segment {@code k} among {@code keys}, storing them in {@code out}; returns the gradient
   * w.r.t. {@code x} when {@code wantX}, else null.
   */
  private static Output<?> backward(Graph graph, String prefix, List<Output<?>> ys, Output<?> dy,
      Operand<TFloat32> x, Map<String, Operand<TFloat32>> segmentParams, boolean wantX,
      List<String> keys, int[] segmentOf, int k, Operand<TFloat32>[] out) {
    List<Output<?>> xs = new ArrayList<>();
    List<Integer> slots = new ArrayList<>();
    if (wantX) {
      xs.add(x.asOutput());
      slots.add(-1);
    }
    for (int i = 0; i < keys.size(); i++) {
      if (segmentOf[i] == k) {
        xs.add(segmentParams.get(keys.get(i)).asOutput());
        slots.add(i);
      }
    }
    if (xs.isEmpty()) {
      return null;
    }
    Output<?>[] g = graph.addGradients(prefix, ys.toArray(Output<?>[]::new),
        xs.toArray(Output<?>[]::new), dy == null ? null : new Output<?>[] {dy});
    Output<?> dx = null;
    for (int j = 0; j < g.length; j++) {
      if (slots.get(j) < 0) {
        dx = g[j];
      } else {
        @SuppressWarnings("unchecked")
        Operand<TFloat32> gj = (Operand<TFloat32>) g[j];
        out[slots.get(j)] = gj;
      }
    }
    return dx;
  }
}
