package org.nfnet.training;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.nfnet.training.data.Batch;
import org.nfnet.training.data.InputSource;
import org.nfnet.training.distributed.DataParallel;
import org.nfnet.training.distributed.GradientAllReduce;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ParameterSource;
import org.nfnet.zoo.graph.ResourceParameters;
import org.nfnet.zoo.graph.ResourceSaver;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * One NFNet training step as a single graph: input, training-mode forward, label-smoothed loss,
 * gradients, SGD+AGC update, EMA update and global-step increment all run in <em>one</em>
 * {@code Session.run}, which also returns loss, top-1, learning rate and clip fractions. The
 * constructor reads top to bottom as the step runs; each part is its own class.
 *
 * <p>All state is in resource variables ({@link TrainState}). Under {@link StepConfig#xla()} new
 * values are computed as tensors and written with {@code AssignVariableOp}, and nothing reads a
 * variable after its write in the same step, so XLA compiles everything but the input pipeline
 * and the summaries into one cluster on a single device ({@code nfnet xla-report}; for towers see
 * {@link Towers}). Checkpoints go through {@link #saver()} ({@code SaveV2}/{@code RestoreV2}
 * under the variable names).
 *
 * <p>Nothing is pinned to a device: {@link StepConfig#device()} (e.g. {@code /device:GPU:0}) scopes
 * the whole step, soft placement lets TF fall back to CPU, and {@link StepConfig#xla()} turns on
 * global XLA JIT.
 */
public final class TrainStep implements AutoCloseable {

  /** Metrics of one step; {@code step} is the global step the update was computed at. */
  public record StepMetrics(long step, double loss, double top1, double learningRate,
      double clipFraction, Map<ParameterGroup, Double> groupClipFractions) {}

  /** Evaluation over a number of batches with the EMA weights. */
  public record EvalMetrics(long step, long examples, double loss, double top1, double top5) {}

  private final NFNetConfig model;
  private final InputSource input;
  private final StepConfig config;
  private final Graph graph = new Graph();
  private final TrainState state;
  private final ExponentialMovingAverage ema;
  private final List<Op> inputInit;
  private final Operand<TFloat32> logits;
  private final Map<String, Operand<TFloat32>> gradients = new LinkedHashMap<>();
  private final Operand<TFloat32> loss;
  private final Operand<TFloat32> top1;
  private final Operand<TFloat32> lr;
  private final SgdAgcOptimizer.Update update;
  private final Operand<TInt64> stepValue;
  private final TrainSummaries summaries;
  private final Op trainOp;
  private final Op trainOpLogged;
  private final ParameterSource evalParameters;
  private final EvalGraph eval;
  private final Op initParams;
  private final Op resetState;
  private final Op syncEma;
  private final ParameterLoader loader;
  private final ResourceSaver saver;
  private final Session session;
  private Map<String, Operand<?>> trainStepOutputs;

  private TrainStep(NFNetConfig model, InputSource input, StepConfig c) {
    this.model = model;
    this.input = input;
    this.config = c;
    Ops root = Ops.create(graph);
    DataParallel dp = c.parallel();
    Ops tf = dp != null ? root.withDevice(dp.towerDevices().get(0))
        : c.device() == null ? root : root.withDevice(StepSession.parseDevice(c.device()));

    // State first, while the graph is small: global step, momentum slots, EMA averages.
    state = new TrainState(tf, c.seed());
    List<ParameterSpec> specs = NFNetStructure.parameters(model);
    SgdAgcOptimizer optimizer = new SgdAgcOptimizer(c.optimizer(), !c.xla(), state,
        specs.stream().filter(p -> !c.frozen().test(p)).toList());
    ema = c.emaDecay() > 0 ? new ExponentialMovingAverage(c.emaDecay(), state, specs) : null;

    // Input: this process's shard of the global batch (the towers split it again).
    InputSource local = dp == null ? input : input.shard(dp.taskIndex(), dp.numTasks());
    Batch batch = local.build(tf.withSubScope("input"), state.step());
    inputInit = batch.initializers();
    if (dp != null && dp.devices() > 1 && local.batchSize() % dp.devices() != 0) {
      throw new IllegalArgumentException("the per-process batch " + local.batchSize()
          + " is not divisible by " + dp.devices() + " devices");
    }

    // Forward, loss and gradients per tower (tower 0 creates the parameters); with data
    // parallelism averaged over all replicas.
    Ops m = tf.withSubScope("metrics");
    ResourceParameters params = state.parameters();
    Towers towers = Towers.build(graph, root, tf, m, model, c, params, batch, state.step());
    logits = towers.logits();
    List<Operand<TFloat32>> grads;
    List<Op> collectives;
    if (dp == null) {
      loss = towers.loss().get(0);
      top1 = towers.top1().get(0);
      grads = towers.grads().get(0);
      collectives = List.of();
    } else {
      GradientAllReduce all = GradientAllReduce.build(dp, towers.ops(), towers.grads(),
          towers.loss(), towers.top1(), m, state.step());
      loss = all.loss();
      top1 = all.top1();
      grads = all.grads();
      collectives = all.ops();
    }
    for (int i = 0; i < grads.size(); i++) {
      gradients.put(towers.trainable().get(i).spec().haikuKey(), grads.get(i));
    }

    // Update (AGC, weight decay, Nesterov momentum), then each average moves to its new value.
    lr = m.withName("learning_rate").identity(c.schedule().at(tf, state.step()));
    update = optimizer.apply(tf, towers.trainable(), grads, lr);
    List<Op> emaUpdates = ema == null ? List.of()
        : ema.update(tf, state.step(), update.newValues());
    stepValue = m.withName("step").identity(state.step());

    summaries = c.logDir() == null ? null : new TrainSummaries(root.withSubScope("summaries"),
        c.logDir(), state.step(), scalars(), batch.images(), c.summaryImages());

    // The step: every assignment, every fetched value and every collective, then the global step
    // advances. A logged step also writes the summaries (outside XLA: they read the same values).
    List<Op> step = new ArrayList<>(update.assigns());
    step.addAll(emaUpdates);
    List.of(stepValue, loss, top1, lr, update.clipFraction()).forEach(t -> step.add(t::op));
    update.clipFractions().values().forEach(t -> step.add(t::op));
    step.addAll(collectives);
    Ops done = tf.withSubScope("train");
    trainOp = state.increment(done, step, "step");
    if (summaries == null) {
      trainOpLogged = trainOp;
    } else {
      List<Op> logged = new ArrayList<>(summaries.writes());
      logged.add(trainOp);
      trainOpLogged = done.withControlDependencies(logged).withName("step_logged").noOp();
    }

    // Evaluation with the EMA weights (or the raw ones without an EMA), inference-mode forward.
    evalParameters = (module, spec, init) -> (ema == null ? params.entry(spec.haikuKey())
        .variable() : ema.average(spec.haikuKey())).read(module.withName(spec.name() + "_eval"));
    eval = input.eval() == null ? null : new EvalGraph(tf.withSubScope("eval"), model,
        input.eval(), evalParameters, state.step());

    // Initialisation, run explicitly (never by TF Java's auto-init, so restore is safe).
    Ops init = root.withSubScope("init");
    initParams = state.initParameters(init.withName("init_parameters"));
    List<Op> reset = new ArrayList<>(optimizer.reset());
    reset.add(state.reset());
    resetState = init.withControlDependencies(reset).withName("reset_optimizer").noOp();
    syncEma = init.withControlDependencies(ema == null ? List.of() : ema.sync(init, params))
        .withName("sync_ema").noOp();
    loader = new ParameterLoader(root.withSubScope("load"), params);
    saver = state.saver(graph);

    session = StepSession.open(graph, c);
  }

  private Map<String, Operand<TFloat32>> scalars() {
    Map<String, Operand<TFloat32>> s = new LinkedHashMap<>();
    s.put("train/loss", loss);
    s.put("train/top1", top1);
    s.put("train/learning_rate", lr);
    s.put("train/clip_fraction", update.clipFraction());
    update.clipFractions().forEach((g, t) -> s.put("train/clip_fraction_" + g.tag(), t));
    return s;
  }

  /** Builds the graph and session; variables are uninitialised until {@link #initialize()} or a restore. */
  public static TrainStep create(NFNetConfig model, InputSource input, StepConfig config) {
    OneDnnWeightCache.refuseForTraining(System.getenv());
    return new TrainStep(model, input, config);
  }

  // ---------------------------------------------------------------------------------------------

  /** Random (Haiku-style) parameters, zero momentum, step 0, EMA = parameters. */
  public void initialize() {
    session.runner().addTarget(initParams).run();
    resetOptimizerState();
    syncEma();
    startInput();
  }

  /** Zero momentum and global step 0 (a fresh optimizer). */
  public void resetOptimizerState() {
    session.runner().addTarget(resetState).run();
  }

  /** Sets every EMA average to the current parameter value. */
  public void syncEma() {
    session.runner().addTarget(syncEma).run();
  }

  /** Runs the input initialisers and opens the summary writer (after init or restore). */
  public void startInput() {
    if (!inputInit.isEmpty()) {
      var r = session.runner();
      inputInit.forEach(r::addTarget);
      r.run();
    }
    if (summaries != null) {
      summaries.open(session);
    }
  }

  /**
   * Assigns host values to parameters (fine-tuning from a release file or an export).
   *
   * @param only Haiku keys to load, or null for all
   */
  public void loadParameters(Function<ParameterSpec, TFloat32> values, Set<String> only) {
    loader.load(session, values, only);
  }

  /** One training step; with {@code log} also writes the TensorBoard summaries of this step. */
  public StepMetrics run(boolean log) {
    var r = session.runner().addTarget(log ? trainOpLogged : trainOp)
        .fetch(stepValue).fetch(loss).fetch(top1).fetch(lr).fetch(update.clipFraction());
    List<ParameterGroup> groups = new ArrayList<>(update.clipFractions().keySet());
    groups.forEach(g -> r.fetch(update.clipFractions().get(g)));
    try (Result res = r.run()) {
      Map<ParameterGroup, Double> gc = new EnumMap<>(ParameterGroup.class);
      for (int i = 0; i < groups.size(); i++) {
        gc.put(groups.get(i), (double) ((TFloat32) res.get(5 + i)).getFloat());
      }
      return new StepMetrics(((TInt64) res.get(0)).getLong(), ((TFloat32) res.get(1)).getFloat(),
          ((TFloat32) res.get(2)).getFloat(), ((TFloat32) res.get(3)).getFloat(),
          ((TFloat32) res.get(4)).getFloat(), gc);
    }
  }

  public boolean hasEval() {
    return eval != null;
  }

  /** Evaluates {@code batches} eval batches (restarting the eval stream first). */
  public EvalMetrics evaluate(int batches) {
    if (eval == null) {
      throw new IllegalStateException("the input has no eval split");
    }
    EvalGraph.Totals t = eval.run(session, batches);
    long n = t.examples();
    EvalMetrics em = new EvalMetrics(globalStep(), n, n == 0 ? Double.NaN : t.lossSum() / n,
        n == 0 ? Double.NaN : t.top1() / n, n == 0 ? Double.NaN : t.top5() / n);
    if (summaries != null && n > 0) {
      summaries.writeEval(session, em.top1(), em.top5());
    }
    return em;
  }

  /** Eval batches per full pass of the eval split. */
  public int evalBatches() {
    return eval == null ? 0 : eval.batches();
  }

  public long globalStep() {
    try (Result r = session.runner().fetch(state.step()).run()) {
      return ((TInt64) r.get(0)).getLong();
    }
  }

  public void flushSummaries() {
    if (summaries != null) {
      summaries.flush(session);
    }
  }

  /** Current values of the EMA weights (or raw weights without EMA), Haiku key -> values. */
  public Map<String, float[]> evalWeights() {
    Map<String, ResourceVariables.Variable<TFloat32>> vs = new LinkedHashMap<>();
    state.parameters().entries().forEach(e -> vs.put(e.spec().haikuKey(),
        ema == null ? e.variable() : ema.average(e.spec().haikuKey())));
    return TrainState.values(session, vs);
  }

  /** Current raw parameter values, Haiku key -> values. */
  public Map<String, float[]> weights() {
    Map<String, ResourceVariables.Variable<TFloat32>> vs = new LinkedHashMap<>();
    state.parameters().entries().forEach(e -> vs.put(e.spec().haikuKey(), e.variable()));
    return TrainState.values(session, vs);
  }

  public Graph graph() {
    return graph;
  }

  public Session session() {
    return session;
  }

  /** The parameters (resource variables named by their Haiku identity). */
  public ResourceParameters parameters() {
    return state.parameters();
  }

  /** Every variable of the step: parameters, global step, momentum slots, EMA averages. */
  public ResourceVariables variables() {
    return state.variables();
  }

  /**
   * The checkpoint saver of every variable ({@code SaveV2}/{@code RestoreV2}, keys = variable
   * names, the keys the earlier {@code VariableV2} step wrote with {@code Session.save}).
   */
  public ResourceSaver saver() {
    return saver;
  }

  /**
   * The weights evaluation uses, as a forward graph's source: reads of the EMA averages (the raw
   * parameters without an EMA), e.g. for serving signatures built in this graph.
   */
  public ParameterSource evalParameters() {
    return evalParameters;
  }

  /**
   * The gradient of the (global-batch mean) loss w.r.t. each trainable parameter, before AGC, by
   * Haiku key.
   */
  public Map<String, Operand<TFloat32>> gradients() {
    return gradients;
  }

  /** The optimizer's update of this step (clipped gradients, new values, clip fractions). */
  public SgdAgcOptimizer.Update update() {
    return update;
  }

  public StepConfig config() {
    return config;
  }

  public NFNetConfig model() {
    return model;
  }

  public InputSource input() {
    return input;
  }

  public Operand<TFloat32> loss() {
    return loss;
  }

  public Operand<TFloat32> logits() {
    return logits;
  }

  /** The step without summaries: its run is one update ({@code train/step}). */
  public Op trainOp() {
    return trainOp;
  }

  /**
   * Loss and top-1 of the step as tensors whose fetch also runs the update (each an
   * {@code Identity} with a control dependency on {@link #trainOp()}): the outputs of an exported
   * {@code train_step} signature. Created on the first call; call it before the first run (ops
   * added later make TF re-prepare the graph).
   */
  public Map<String, Operand<?>> trainStepOutputs() {
    if (trainStepOutputs == null) {
      Ops t = Ops.create(graph).withSubScope("train_step")
          .withControlDependencies(List.of(trainOp));
      trainStepOutputs = new LinkedHashMap<>();
      trainStepOutputs.put("loss", t.withName("loss").identity(loss));
      trainStepOutputs.put("top1", t.withName("top1").identity(top1));
    }
    return trainStepOutputs;
  }

  @Override
  public void close() {
    try {
      flushSummaries();
    } catch (RuntimeException ignored) {
      // writer never opened
    }
    session.close();
    graph.close();
  }
}
