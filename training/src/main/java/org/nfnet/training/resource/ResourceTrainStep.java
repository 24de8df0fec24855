package org.nfnet.training.resource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.nfnet.training.ExponentialMovingAverage;
import org.nfnet.training.LabelSmoothingLoss;
import org.nfnet.training.LearningRateSchedule;
import org.nfnet.training.OptimizerConfig;
import org.nfnet.training.StepSession;
import org.nfnet.training.data.Batch;
import org.nfnet.training.data.InputSource;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.FusedWeightStandardization;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.NFNetOutputs;
import org.nfnet.zoo.graph.ResourceParameters;
import org.nfnet.zoo.graph.ResourceSaver;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Prototype of the training step on resource variables only, built so that XLA can compile all
 * of it but the input pipeline into one cluster: forward (training mode, hashed
 * stochastic-depth and dropout masks keyed on the global step), label-smoothed loss, gradients
 * ({@code Graph.addGradients} w.r.t. the parameters' {@code ReadVariableOp}s), AGC, weight decay,
 * Nesterov momentum ({@link ResourceSgdAgc}), EMA ({@code ResourceApplyGradientDescent}), the
 * learning-rate schedule and the global-step increment, in one {@code Session.run}.
 *
 * <p>State comes from {@link StepVariables} (the one place that creates variables) and is
 * checkpointed by its {@link ResourceSaver} under today's names. Single device, no towers and no
 * summaries: those stay with {@code TrainStep}, into which this is meant to be folded.
 */
public final class ResourceTrainStep implements AutoCloseable {

  /**
   * @param regularize training-mode forward (stochastic depth + dropout)
   * @param emaDecay 0 disables the EMA
   * @param xla global XLA JIT (ON_2) with Grappler's CPU remapping off, as {@code TrainStep}
   */
  public record Config(OptimizerConfig optimizer, LearningRateSchedule schedule,
      double labelSmoothing, double emaDecay, boolean regularize, long seed, boolean xla) {}

  /** Metrics of one step; {@code step} is the global step the update was computed at. */
  public record Metrics(long step, float loss, float top1, float learningRate,
      float clipFraction) {}

  private final Graph graph = new Graph();
  private final Session session;
  private final StepVariables state;
  private final ResourceSaver saver;
  private final List<Op> inputInit;
  private final Op init;
  private final Op syncEma;
  private final Op step;
  private final Operand<TInt64> stepValue;
  private final Operand<TFloat32> loss;
  private final Operand<TFloat32> top1;
  private final Operand<TFloat32> lr;
  private final Operand<TFloat32> clipFraction;
  private final Map<String, Placeholder<TFloat32>> loadValues = new LinkedHashMap<>();
  private final Map<String, Op> loadAssigns = new LinkedHashMap<>();

  private ResourceTrainStep(NFNetConfig model, InputSource input, Config c) {
    Ops tf = Ops.create(graph);
    state = new StepVariables(tf, NFNetStructure.parameters(model), p -> false,
        c.emaDecay() > 0, c.seed());
    Operand<TInt64> stepRead = tf.withName("global_step_read").readVariableOp(
        state.globalStep().handle(), TInt64.class);

    Batch batch = input.build(tf.withSubScope("input"), stepRead);
    inputInit = batch.initializers();
    // Masks from the SplitMix64 hash (ForwardOptions#hashMasks): the same with and without XLA.
    Operand<TInt64> seed = tf.withSubScope("seed").stack(List.of(
        tf.constant(c.seed() ^ 0x5DEECE66DL), stepRead));
    ForwardOptions fwd = (c.regularize() ? ForwardOptions.training(seed).withHashMasks(true)
        : ForwardOptions.inference()).differentiated(true)
        .withFusedStandardization(!c.xla() && FusedWeightStandardization.supported());
    NFNetOutputs out = new NFNet(model).build(tf, batch.images(), state.parameters(), fwd);

    Ops m = tf.withSubScope("metrics");
    Operand<TFloat32> targets = batch.targets() == null
        ? LabelSmoothingLoss.targets(m, batch.labels(), model.numClasses(), c.labelSmoothing())
        : LabelSmoothingLoss.smooth(m, batch.targets(), model.numClasses(), c.labelSmoothing());
    loss = m.withName("loss").identity(LabelSmoothingLoss.loss(m, out.logits(), targets));
    top1 = m.withName("top1").identity(m.math.mean(m.dtypes.cast(m.math.equal(
        m.math.argMax(out.logits(), m.constant(1), TInt32.class), batch.labels()),
        TFloat32.class), m.constant(0)));
    stepValue = m.withName("step").identity(stepRead);

    List<ResourceParameters.Entry> params = state.parameters().entries();
    Output<?>[] xs = new Output<?>[params.size()];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = params.get(i).read().asOutput();
    }
    Output<?>[] dys = graph.addGradients("gradients", new Output<?>[] {loss.asOutput()}, xs, null);
    List<Operand<TFloat32>> grads = new ArrayList<>();
    for (Output<?> dy : dys) {
      @SuppressWarnings("unchecked")
      Operand<TFloat32> g = (Operand<TFloat32>) dy;
      grads.add(g);
    }

    lr = m.withName("learning_rate").identity(c.schedule().at(tf, stepRead));
    ResourceSgdAgc.Update update = new ResourceSgdAgc(c.optimizer(), !c.xla())
        .apply(tf, params, grads, state.momentum(), lr);
    clipFraction = m.withName("clip_fraction").identity(update.clipFraction());
    List<Op> updates = new ArrayList<>(update.assigns());

    if (c.emaDecay() > 0) {
      // average -= (1 - d) * (average - new value), from the new value the optimizer computed:
      // reading the variable after its update would split the XLA cluster (TF never puts a
      // resource read that depends on a write of the same cluster into it).
      Ops e = tf.withSubScope("ema_update");
      Operand<TFloat32> oneMinusD = e.math.sub(e.constant(1f),
          new ExponentialMovingAverage(c.emaDecay()).effectiveDecay(e, stepRead));
      for (ResourceParameters.Entry p : params) {
        ResourceVariables.Variable<TFloat32> avg = state.ema().get(p.spec().haikuKey());
        Operand<TFloat32> value = update.newValues().getOrDefault(p.spec().haikuKey(), p.read());
        Operand<TFloat32> diff = e.math.sub(avg.read(e), value);
        updates.add(e.train.resourceApplyGradientDescent(avg.handle(), oneMinusD, diff));
      }
    }
    // step <- read + 1 rather than AssignAddVariableOp: the data edge from the step's read lets
    // XLA take the increment into the cluster (a lone AssignAdd stays outside).
    Ops done = tf.withSubScope("train").withControlDependencies(updates);
    step = done.withName("step").assignVariableOp(state.globalStep().handle(),
        done.math.add(stepRead, done.constant(1L)));

    // Host-value loaders, created up front (ops added after the first run re-prepare the graph).
    Ops ld = tf.withSubScope("load");
    for (ResourceParameters.Entry p : params) {
      Placeholder<TFloat32> ph = ld.placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(p.spec().shape())));
      loadValues.put(p.spec().haikuKey(), ph);
      loadAssigns.put(p.spec().haikuKey(), p.variable().assign(ld, ph));
    }

    Ops i = tf.withSubScope("init");
    init = state.initializer(i.withName("init_state"));
    syncEma = state.syncEma(i.withName("sync_ema"));
    saver = state.saver(graph);
    session = new Session(graph, StepSession.config(c.xla()));
  }

  public static ResourceTrainStep create(NFNetConfig model, InputSource input, Config config) {
    return new ResourceTrainStep(model, input, config);
  }

  /** Initial parameters (seeded as {@code TrainStep}'s), zero momentum, step 0, EMA = parameters. */
  public void initialize() {
    session.runner().addTarget(init).run();
    session.runner().addTarget(syncEma).run();
    startInput();
  }

  /**
   * Assigns host values to every parameter (e.g. a release file), then re-syncs the EMA. The
   * caller owns the tensors.
   */
  public void loadParameters(Function<ParameterSpec, TFloat32> values) {
    var r = session.runner();
    for (ResourceParameters.Entry e : state.parameters().entries()) {
      r.feed(loadValues.get(e.spec().haikuKey()), values.apply(e.spec()))
          .addTarget(loadAssigns.get(e.spec().haikuKey()));
    }
    r.run();
    session.runner().addTarget(syncEma).run();
  }

  /** Restores every variable from a checkpoint prefix (this step's or today's VariableV2 step). */
  public void restore(String prefix) {
    saver.restore(session, prefix);
    startInput();
  }

  public void save(String prefix) {
    saver.save(session, prefix);
  }

  private void startInput() {
    if (!inputInit.isEmpty()) {
      var r = session.runner();
      inputInit.forEach(r::addTarget);
      r.run();
    }
  }

  public Metrics run() {
    try (Result r = session.runner().addTarget(step).fetch(stepValue).fetch(loss).fetch(top1)
        .fetch(lr).fetch(clipFraction).run()) {
      return new Metrics(((TInt64) r.get(0)).getLong(), ((TFloat32) r.get(1)).getFloat(),
          ((TFloat32) r.get(2)).getFloat(), ((TFloat32) r.get(3)).getFloat(),
          ((TFloat32) r.get(4)).getFloat());
    }
  }

  /** Current values of the given variables' snapshots, by variable name. */
  public Map<String, float[]> values(List<String> names) {
    var r = session.runner();
    names.forEach(n -> r.fetch(state.all().get(n).snapshot()));
    Map<String, float[]> out = new java.util.LinkedHashMap<>();
    try (Result res = r.run()) {
      for (int k = 0; k < names.size(); k++) {
        TFloat32 t = (TFloat32) res.get(k);
        float[] a = new float[(int) t.size()];
        t.asRawTensor().data().asFloats().read(a);
        out.put(names.get(k), a);
      }
    }
    return out;
  }

  public StepVariables state() {
    return state;
  }

  public ResourceSaver saver() {
    return saver;
  }

  public Graph graph() {
    return graph;
  }

  public Session session() {
    return session;
  }

  public Op stepOp() {
    return step;
  }

  /**
   * Loss and top-1 of the step as tensors whose fetch also runs the update (each an
   * {@code Identity} with a control dependency on {@link #stepOp()}): the outputs of an exported
   * {@code train_step} signature. Call before the first run.
   */
  public Map<String, Operand<?>> trainStepOutputs() {
    Ops t = Ops.create(graph).withSubScope("train_step").withControlDependencies(List.of(step));
    Map<String, Operand<?>> out = new LinkedHashMap<>();
    out.put("loss", t.withName("loss").identity(loss));
    out.put("top1", t.withName("top1").identity(top1));
    return out;
  }

  /** The step's loss (label-smoothed cross-entropy of this batch, before the update). */
  public Operand<TFloat32> loss() {
    return loss;
  }

  public Operand<TFloat32> top1() {
    return top1;
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
