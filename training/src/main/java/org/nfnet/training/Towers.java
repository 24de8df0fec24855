package org.nfnet.training;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nfnet.training.data.Batch;
import org.nfnet.training.distributed.DataParallel;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.FusedWeightStandardization;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.NFNetOutputs;
import org.nfnet.zoo.graph.ParameterSource;
import org.nfnet.zoo.graph.Precision;
import org.nfnet.zoo.graph.ResourceParameters;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The model replicas of one process: each tower takes its rows of the batch, runs the
 * training-mode forward, the label-smoothed loss and top-1, and the gradients of its loss w.r.t.
 * the trainable parameters. Tower 0 creates the parameter variables; the others take their values
 * (read on device 0, where the variables live). Without data parallelism there is one tower and no
 * slicing.
 *
 * <p>Stochastic-depth and dropout masks come from the SplitMix64 hash of the seed and the global
 * step ({@code ForwardOptions#withHashMasks}), with and without XLA, so both draw the same masks
 * (TF's stateless random kernels take int64 seeds XLA on CPU does not compile into the step).
 *
 * <p>Each tower's forward and backward run on its device: {@code Graph.addGradients} creates
 * backward ops without a device (TF Java has no {@code colocate_gradients_with_ops}), so towers
 * d > 0 are built as a TF function called on their device ({@link TowerFunction}); under XLA each
 * tower is one cluster on its device ({@code nfnet xla-report --graph train-2cpu}). Tower 0 stays
 * in the step's graph, so the single-device step is the same graph as without data parallelism.
 *
 * @param loss per tower, the mean loss over its rows
 * @param top1 per tower, top-1 accuracy over its rows
 * @param grads per tower, the gradient w.r.t. each trainable parameter (order of
 *     {@code trainable})
 * @param logits tower 0's logits
 * @param trainable the parameters that are updated (not frozen), in graph order
 * @param ops each tower's scope (device included)
 */
record Towers(List<Operand<TFloat32>> loss, List<Operand<TFloat32>> top1,
    List<List<Operand<TFloat32>>> grads, Operand<TFloat32> logits,
    List<ResourceParameters.Entry> trainable, List<Ops> ops) {

  /**
   * @param root the graph's root scope (towers d > 0 get their own device and scope)
   * @param tf tower 0's scope
   * @param metrics tower 0's scope for loss and top-1
   * @param step the global step before this update (regularisation seeds)
   */
  static Towers build(Graph graph, Ops root, Ops tf, Ops metrics, NFNetConfig model, StepConfig c,
      ResourceParameters params, Batch batch, Operand<TInt64> step) {
    DataParallel dp = c.parallel();
    List<DeviceSpec> devices = dp == null ? List.of() : dp.towerDevices();
    int n = dp == null ? 1 : dp.devices();
    List<Operand<TFloat32>> losses = new ArrayList<>();
    List<Operand<TFloat32>> top1s = new ArrayList<>();
    List<List<Operand<TFloat32>>> grads = new ArrayList<>();
    List<Ops> ops = new ArrayList<>();
    List<ResourceParameters.Entry> trainable = new ArrayList<>();
    Operand<TFloat32> logits0 = null;
    for (int d = 0; d < n; d++) {
      Ops td = d == 0 ? tf : root.withDevice(devices.get(d)).withSubScope("tower_" + d);
      ops.add(td);
      Batch tb = n == 1 ? batch : batch.rows(td.withSubScope("tower_input"), d, n);
      // Training-mode forward, seeds from the global step so a resumed run draws the same masks;
      // replica r > 0 draws its own masks.
      int replica = dp == null ? 0 : dp.replicaIndex(d);
      Operand<TInt64> stepSeed = td.withSubScope("seed").stack(List.of(
          td.constant(c.seed() ^ 0x5DEECE66DL ^ (replica * 0x9E3779B97F4A7C15L)), step));
      String suffix = dp == null ? "" : "_local";
      if (d > 0) {
        // Replicas run as a function called on their device, so that their backward (which
        // addGradients would create without a device) is placed there too. Tower 0 stays in the
        // step's graph: it creates the variables, and the single-device step is unchanged.
        TowerFunction.Outputs o = TowerFunction.call(td, "tower_" + d, "tower", tb, stepSeed,
            params, trainable, c.xla(), (f, rows, seed, src) -> forward(f,
                f.withSubScope("metrics"), model, c, rows, seed, src, ""));
        Ops tm = td.withSubScope("metrics");
        losses.add(tm.withName("loss" + suffix).identity(o.loss()));
        top1s.add(tm.withName("top1" + suffix).identity(o.top1()));
        grads.add(o.grads());
        continue;
      }
      Pass out = forward(td, metrics, model, c, tb, stepSeed, params, suffix);
      logits0 = out.logits();
      losses.add(out.loss());
      top1s.add(out.top1());
      // Tower 0's forward created the parameters.
      for (ResourceParameters.Entry e : params.entries()) {
        if (!c.frozen().test(e.spec())) {
          trainable.add(e);
        }
      }
      if (trainable.isEmpty()) {
        throw new IllegalArgumentException("every parameter is frozen: nothing to train");
      }
      // Gradients w.r.t. the reads (ReadVariableOp) of the trainable parameters only.
      List<Operand<TFloat32>> gs = out.gradients(graph, td,
          trainable.stream().map(ResourceParameters.Entry::read).toList());
      grads.add(gs);
    }
    return new Towers(losses, top1s, grads, logits0, trainable, ops);
  }

  /**
   * One tower's training-mode forward, label-smoothed loss and top-1, ready to be differentiated.
   *
   * @param recomputation the forward as recorded for activation recomputation, or null
   */
  record Pass(Operand<TFloat32> logits, Operand<TFloat32> loss, Operand<TFloat32> top1,
      ActivationRecomputation recomputation) {

    /**
     * Gradients of the loss w.r.t. {@code params} (tensors the forward got from its parameter
     * source), built in {@code graph}: in one piece, or segment by segment with recomputation.
     */
    List<Operand<TFloat32>> gradients(Graph graph, Ops tf, List<Operand<TFloat32>> params) {
      if (recomputation != null) {
        return recomputation.gradients(graph, tf, loss, params);
      }
      Output<?>[] dys = graph.addGradients("gradients", new Output<?>[] {loss.asOutput()},
          params.stream().map(Operand::asOutput).toArray(Output<?>[]::new), null);
      List<Operand<TFloat32>> gs = new ArrayList<>();
      for (Output<?> dy : dys) {
        @SuppressWarnings("unchecked")
        Operand<TFloat32> gd = (Operand<TFloat32>) dy;
        gs.add(gd);
      }
      return gs;
    }
  }

  /**
   * One tower's training-mode forward, label-smoothed loss and top-1.
   *
   * @param tm the scope of loss and top-1
   */
  private static Pass forward(Ops td, Ops tm, NFNetConfig model, StepConfig c, Batch tb,
      Operand<TInt64> stepSeed, ParameterSource src, String suffix) {
    // CPU builds standardize kernels with one fused op (and its fused gradient); it has no XLA
    // kernel, so an XLA step standardizes with plain ops.
    ForwardOptions fwd = (c.regularize() ? ForwardOptions.training(stepSeed).withHashMasks(true)
        : ForwardOptions.inference())
        .withFusedStandardization(!c.xla() && FusedWeightStandardization.supported())
        .differentiated(true);
    // bf16: convolutions (nearly all the MACs) run in bfloat16 on float32 master weights; the
    // casts' gradients hand float32 gradients back to the variables, optimizer and EMA.
    NFNet net = new NFNet(model, c.bf16() ? Precision.BFLOAT16 : Precision.FLOAT32);
    ActivationRecomputation recomputation = c.recompute()
        ? ActivationRecomputation.forward(td, net, tb.images(), src, fwd) : null;
    NFNetOutputs out = recomputation != null ? recomputation.outputs()
        : net.build(td, tb.images(), src, fwd);
    Operand<TFloat32> targets = tb.targets() == null
        ? LabelSmoothingLoss.targets(tm, tb.labels(), model.numClasses(), c.labelSmoothing())
        : LabelSmoothingLoss.smooth(tm, tb.targets(), model.numClasses(), c.labelSmoothing());
    Operand<TFloat32> loss = tm.withName("loss" + suffix).identity(
        LabelSmoothingLoss.loss(tm, out.logits(), targets));
    Operand<TFloat32> top1 = tm.withName("top1" + suffix).identity(
        tm.math.mean(inTopK(tm, out.logits(), tb.labels(), 1), tm.constant(0)));
    return new Pass(out.logits(), loss, top1, recomputation);
  }

  int size() {
    return ops.size();
  }

  /**
   * 1 where the label is among the top {@code k} logits, else 0, float32 [N]. Top-1 is an argmax
   * (InTopK counts ties as hits; argmax matches DeepMind's top-1).
   */
  static Operand<TFloat32> inTopK(Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels,
      int k) {
    if (k == 1) {
      Operand<TBool> hit = tf.math.equal(tf.math.argMax(logits, tf.constant(1), TInt32.class),
          labels);
      return tf.dtypes.cast(hit, TFloat32.class);
    }
    return tf.dtypes.cast(tf.nn.inTopK(logits, labels, tf.constant(k)), TFloat32.class);
  }
}
