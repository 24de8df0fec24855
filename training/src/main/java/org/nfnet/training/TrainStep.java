package org.nfnet.training;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import org.nfnet.zoo.graph.NameScopes;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.FusedWeightStandardization;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.Precision;
import org.nfnet.zoo.graph.NFNetOutputs;
import org.nfnet.zoo.graph.ParameterSource;
import org.nfnet.zoo.graph.VariableParameters;
import org.nfnet.training.distributed.CollectiveAllReduce;
import org.nfnet.training.distributed.DataParallel;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RewriterConfig;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.family.TType;

/**
 * One NFNet training step as a single graph: input, training-mode forward, label-smoothed loss,
 * gradients, SGD+AGC update, EMA update and global-step increment all run in <em>one</em>
 * {@code Session.run}, which also returns loss, top-1, learning rate and clip fractions.
 *
 * <p>Ordering: a VariableV2 read can alias the variable's buffer, so every assignment waits for a
 * barrier made of all new values (which depend on all gradients, hence the whole forward and
 * backward pass) and all fetched metrics; the global step is incremented after all assignments.
 *
 * <p>Nothing is pinned to a device: {@link Options#device()} (e.g. {@code /device:GPU:0}) scopes
 * the whole step, soft placement lets TF fall back to CPU, and {@link Options#xla()} turns on
 * global XLA JIT.
 */
public final class TrainStep implements AutoCloseable {

  /**
   * @param optimizer SGD+AGC hyper-parameters and groups
   * @param schedule learning rate on the global step
   * @param labelSmoothing 0.1 in the paper
   * @param emaDecay EMA decay; 0 disables the EMA (evaluation then uses the raw weights)
   * @param regularize training-mode forward (stochastic depth + dropout) with seeds derived
   *     in-graph from the global step; false gives DeepMind's eval-mode forward (parity checks)
   * @param bf16 bfloat16 convolutions with float32 master weights ({@link Precision#BFLOAT16})
   * @param device device for the step ops, or null for TF's default placement
   * @param seed base of every in-graph random seed (init, stochastic depth, dropout)
   * @param frozen parameters excluded from the update (fine-tuning)
   * @param logDir TensorBoard directory, or null for no summaries
   * @param summaryImages input images written per logged step
   * @param xla enable global XLA JIT (ON_2) for the session
   * @param parallel synchronous data parallelism (cluster tasks and/or local towers), or null
   */
  public record Options(OptimizerConfig optimizer, LearningRateSchedule schedule,
      double labelSmoothing, double emaDecay, boolean regularize, boolean bf16, String device,
      long seed, Predicate<ParameterSpec> frozen, Path logDir, int summaryImages, boolean xla,
      DataParallel parallel) {

    /** Without data parallelism (the original signature). */
    public Options(OptimizerConfig optimizer, LearningRateSchedule schedule,
        double labelSmoothing, double emaDecay, boolean regularize, boolean bf16, String device,
        long seed, Predicate<ParameterSpec> frozen, Path logDir, int summaryImages, boolean xla) {
      this(optimizer, schedule, labelSmoothing, emaDecay, regularize, bf16, device, seed, frozen,
          logDir, summaryImages, xla, null);
    }

    public Options withParallel(DataParallel p) {
      return new Options(optimizer, schedule, labelSmoothing, emaDecay, regularize, bf16, device,
          seed, frozen, logDir, summaryImages, xla, p);
    }

    public static Options defaults(LearningRateSchedule schedule) {
      return new Options(OptimizerConfig.deepMind(), schedule, 0.1,
          ExponentialMovingAverage.SHORT_RUN_DECAY, true, false, null, 0L, p -> false, null, 3,
          false);
    }

    public Options withRegularize(boolean r) {
      return new Options(optimizer, schedule, labelSmoothing, emaDecay, r, bf16, device, seed,
          frozen, logDir, summaryImages, xla, parallel);
    }

    public Options withEmaDecay(double d) {
      return new Options(optimizer, schedule, labelSmoothing, d, regularize, bf16, device, seed,
          frozen, logDir, summaryImages, xla, parallel);
    }

    public Options withXla(boolean x) {
      return new Options(optimizer, schedule, labelSmoothing, emaDecay, regularize, bf16, device,
          seed, frozen, logDir, summaryImages, x, parallel);
    }

    public Options withDevice(String d) {
      return new Options(optimizer, schedule, labelSmoothing, emaDecay, regularize, bf16, d, seed,
          frozen, logDir, summaryImages, xla, parallel);
    }

    public Options withLogDir(Path p) {
      return new Options(optimizer, schedule, labelSmoothing, emaDecay, regularize, bf16, device,
          seed, frozen, p, summaryImages, xla, parallel);
    }

    public Options withFrozen(Predicate<ParameterSpec> f) {
      return new Options(optimizer, schedule, labelSmoothing, emaDecay, regularize, bf16, device,
          seed, f, logDir, summaryImages, xla, parallel);
    }

    public Options withBf16(boolean b) {
      return new Options(optimizer, schedule, labelSmoothing, emaDecay, regularize, b, device,
          seed, frozen, logDir, summaryImages, xla, parallel);
    }

    public Options withSeed(long s) {
      return new Options(optimizer, schedule, labelSmoothing, emaDecay, regularize, bf16, device,
          s, frozen, logDir, summaryImages, xla, parallel);
    }
  }

  /** Metrics of one step; {@code step} is the global step the update was computed at. */
  public record StepMetrics(long step, double loss, double top1, double learningRate,
      double clipFraction, Map<ParameterGroup, Double> groupClipFractions) {}

  /** Evaluation over a number of batches with the EMA weights. */
  public record EvalMetrics(long step, long examples, double loss, double top1, double top5) {}

  public static final String GLOBAL_STEP = "global_step";
  public static final String EMA_SCOPE = "ema";
  /** Collective group key of the data-parallel step's all-reduces. */
  public static final int GROUP_KEY = 1;

  private final NFNetConfig model;
  private final InputSource input;
  private final Options options;
  private final Graph graph;
  private final Session session;
  private final VariableParameters params = new VariableParameters();
  private final Variable<TInt64> globalStep;
  private final Operand<TInt64> stepRead;
  private final Operand<TInt64> stepValue;
  private final SgdAgcOptimizer.Plan plan;
  private final Map<String, Operand<TFloat32>> newValues;
  private final Map<String, Variable<TFloat32>> ema = new LinkedHashMap<>();
  private final List<Op> inputInit;
  private final Op initParams;
  private final Map<String, org.tensorflow.op.core.Placeholder<TFloat32>> loadValues =
      new LinkedHashMap<>();
  private final Map<String, Op> loadAssigns = new LinkedHashMap<>();
  private final Op resetState;
  private final Op syncEma;
  private final Op trainOp;
  private final Op trainOpLogged;
  private final Operand<TFloat32> loss;
  private final Operand<TFloat32> top1;
  private final Operand<TFloat32> lr;
  private final Map<ParameterGroup, Operand<TFloat32>> clipFractions;
  private final Operand<TFloat32> logits;
  // Evaluation (null when the input has no eval split).
  private final InputSource evalInput;
  private final List<Op> evalInit;
  private final Operand<TFloat32> evalLossSum;
  private final Operand<TFloat32> evalTop1;
  private final Operand<TFloat32> evalTop5;
  private final Operand<TInt32> evalCount;
  // Summaries (null without a log dir).
  private final Op summaryInit;
  private final Op summaryFlush;
  private final Op evalSummaries;
  private final org.tensorflow.op.core.Placeholder<TFloat32> evalTop1Value;
  private final org.tensorflow.op.core.Placeholder<TFloat32> evalTop5Value;

  private TrainStep(NFNetConfig model, InputSource input, Options o) {
    this.model = model;
    this.input = input;
    this.options = o;
    this.graph = new Graph();
    Ops root = Ops.create(graph);
    DataParallel dp = o.parallel();
    List<DeviceSpec> towers = dp == null ? List.of() : dp.towerDevices();
    Ops tf = dp != null ? root.withDevice(towers.get(0))
        : o.device() == null ? root : root.withDevice(parseDevice(o.device()));
    NameScopes scopes = new NameScopes(tf);

    globalStep = tf.withName(GLOBAL_STEP).variable(Shape.scalar(), TInt64.class);
    stepRead = tf.withName("global_step_read").identity(globalStep);

    // Slots first, while the graph is small (TF Java scans the graph for every new name scope).
    List<ParameterSpec> specs = NFNetStructure.parameters(model);
    List<ParameterSpec> trainableSpecs = specs.stream().filter(p -> !o.frozen().test(p)).toList();
    Map<String, Variable<TFloat32>> slots = SgdAgcOptimizer.createSlots(scopes, trainableSpecs);
    if (o.emaDecay() > 0) {
      for (ParameterSpec p : specs) {
        ema.put(p.haikuKey(), scopes.named(EMA_SCOPE + "/" + p.tfName())
            .variable(Shape.of(p.shape()), TFloat32.class));
      }
    }

    // Data parallelism: this process reads its shard of the global batch (towers split it again).
    InputSource local = dp == null ? input : input.shard(dp.taskIndex(), dp.numTasks());
    InputSource.Batch batch = local.build(tf.withSubScope("input"), stepRead);
    inputInit = batch.initializers();
    int nTowers = dp == null ? 1 : dp.devices();
    if (nTowers > 1 && local.batchSize() % nTowers != 0) {
      throw new IllegalArgumentException("the per-process batch " + local.batchSize()
          + " is not divisible by " + nTowers + " devices");
    }

    Ops m = tf.withSubScope("metrics");
    List<Operand<TFloat32>> towerLoss = new ArrayList<>();
    List<Operand<TFloat32>> towerTop1 = new ArrayList<>();
    List<List<Operand<TFloat32>>> towerGrads = new ArrayList<>();
    List<Ops> towerOps = new ArrayList<>();
    List<VariableParameters.Entry> trainable = new ArrayList<>();
    Operand<TFloat32> logits0 = null;
    for (int d = 0; d < nTowers; d++) {
      Ops td = d == 0 ? tf : root.withDevice(towers.get(d)).withSubScope("tower_" + d);
      towerOps.add(td);
      InputSource.Batch tb = nTowers == 1 ? batch : towerSlice(td, batch, d, nTowers);
      // Forward, training mode, seeds from the global step so a resumed run draws the same masks;
      // replica r > 0 draws its own masks.
      int replica = dp == null ? 0 : dp.replicaIndex(d);
      Operand<TInt64> stepSeed = td.withSubScope("seed").stack(List.of(
          td.constant(o.seed() ^ 0x5DEECE66DL ^ (replica * 0x9E3779B97F4A7C15L)), stepRead));
      // CPU builds standardize kernels with one fused op (and its fused gradient).
      ForwardOptions fwd = (o.regularize() ? ForwardOptions.training(stepSeed)
          : ForwardOptions.inference())
          .withFusedStandardization(FusedWeightStandardization.supported()).differentiated(true);
      // Tower 0 creates the variables; the others read them on their own device.
      Map<String, Operand<TFloat32>> reads = new LinkedHashMap<>();
      ParameterSource src = d == 0 ? params : (module, spec, init) -> {
        Operand<TFloat32> r = module.withName(spec.name() + "_read")
            .identity(params.entry(spec.haikuKey()).variable());
        reads.put(spec.haikuKey(), r);
        return r;
      };
      // bf16: convolutions (nearly all the MACs) run in bfloat16 on float32 master weights; the
      // casts' gradients hand float32 gradients back to the variables, optimizer and EMA.
      NFNetOutputs out = new NFNet(model, o.bf16() ? Precision.BFLOAT16 : Precision.FLOAT32)
          .build(td, tb.images(), src, fwd);
      if (d == 0) {
        logits0 = out.logits();
      }
      Ops tm = d == 0 ? m : td.withSubScope("metrics");
      Operand<TFloat32> targets = tb.targets() == null
          ? LabelSmoothingLoss.targets(tm, tb.labels(), model.numClasses(), o.labelSmoothing())
          : LabelSmoothingLoss.smooth(tm, tb.targets(), model.numClasses(), o.labelSmoothing());
      String suffix = dp == null ? "" : "_local";
      towerLoss.add(tm.withName("loss" + suffix).identity(
          LabelSmoothingLoss.loss(tm, out.logits(), targets)));
      towerTop1.add(tm.withName("top1" + suffix).identity(
          accuracy(tm, out.logits(), tb.labels(), 1)));

      // Gradients w.r.t. the Identity reads of the trainable parameters only.
      if (d == 0) {
        for (VariableParameters.Entry e : params.entries()) {
          if (!o.frozen().test(e.spec())) {
            trainable.add(e);
          }
        }
        if (trainable.isEmpty()) {
          throw new IllegalArgumentException("every parameter is frozen: nothing to train");
        }
      }
      Output<?>[] xs = new Output<?>[trainable.size()];
      for (int i = 0; i < xs.length; i++) {
        xs[i] = (d == 0 ? trainable.get(i).read() : reads.get(trainable.get(i).spec().haikuKey()))
            .asOutput();
      }
      Output<?>[] dys = graph.addGradients(d == 0 ? "gradients" : "gradients_tower_" + d,
          new Output<?>[] {towerLoss.get(d).asOutput()}, xs, null);
      List<Operand<TFloat32>> grads = new ArrayList<>();
      for (Output<?> dy : dys) {
        @SuppressWarnings("unchecked")
        Operand<TFloat32> g = (Operand<TFloat32>) dy;
        grads.add(g);
      }
      towerGrads.add(grads);
    }
    logits = logits0;

    List<Op> collectiveOps = new ArrayList<>();
    List<Operand<TFloat32>> grads;
    if (dp == null) {
      loss = towerLoss.get(0);
      top1 = towerTop1.get(0);
      grads = towerGrads.get(0);
    } else {
      // psum of the replica-mean gradients / replicas = gradient of the global-batch mean loss;
      // clipping and the update follow, identical on every replica. Loss, top-1 and the global
      // step are all-reduced too (one small collective), the step to catch replicas that
      // restored different checkpoints.
      int g = dp.replicas();
      int k = trainable.size();
      CollectiveAllReduce.Options co = dp.collectiveOptions();
      List<Operand<TFloat32>> summed0 = null;
      Operand<TFloat32> metrics0 = null;
      for (int d = 0; d < nTowers; d++) {
        Ops td = towerOps.get(d);
        List<Operand<TFloat32>> summed = CollectiveAllReduce.sum(td, towerGrads.get(d), g,
            GROUP_KEY, 1, co);
        Ops tm = td.withSubScope("replica_metrics");
        Operand<TFloat32> local3 = tm.stack(List.of(towerLoss.get(d), towerTop1.get(d),
            tm.dtypes.cast(stepRead, TFloat32.class)));
        Operand<TFloat32> all3 = CollectiveAllReduce.sum(tm, List.of(local3), g, GROUP_KEY,
            k + 2, co).get(0);
        summed.forEach(t -> collectiveOps.add(t::op));
        collectiveOps.add(all3::op);
        if (d == 0) {
          summed0 = summed;
          metrics0 = all3;
        }
      }
      Ops mm = m.withSubScope("mean");
      Operand<TFloat32> inv = mm.constant((float) g);
      grads = new ArrayList<>(k);
      for (Operand<TFloat32> t : summed0) {
        grads.add(mm.math.div(t, inv));
      }
      Operand<TFloat32> mean3 = mm.math.div(metrics0, inv);
      loss = m.withName("loss").identity(mm.gather(mean3, mm.constant(0), mm.constant(0)));
      top1 = m.withName("top1").identity(mm.gather(mean3, mm.constant(1), mm.constant(0)));
      Operand<TFloat32> stepDiff = mm.math.abs(mm.math.sub(
          mm.gather(mean3, mm.constant(2), mm.constant(0)),
          mm.dtypes.cast(stepRead, TFloat32.class)));
      collectiveOps.add(mm.withName("replicas_in_step").assertThat(
          mm.math.less(stepDiff, mm.constant(0.25f)),
          List.of(mm.constant("replicas are at different global steps (restored different"
              + " checkpoints?); this replica is at"), stepRead)));
    }

    lr = m.withName("learning_rate").identity(o.schedule().at(tf, stepRead));
    // Under XLA the AGC norms are built from ops XLA compiles (EuclideanNorm has no XLA kernel).
    plan = new SgdAgcOptimizer(o.optimizer()).withFusedNorms(!o.xla())
        .build(tf, slots, trainable, grads, lr);
    clipFractions = new EnumMap<>(ParameterGroup.class);
    plan.clipFractions().forEach((g, t) ->
        clipFractions.put(g, m.withName("clip_fraction_" + g.tag()).identity(t)));
    Operand<TFloat32> clipAll = m.withName("clip_fraction").identity(plan.clipFraction());

    // The step this update is computed at, copied before the increment (a fetched Identity of the
    // variable would alias its buffer and show the incremented value).
    stepValue = m.withName("step").math.add(stepRead, m.constant(0L));
    List<Op> barrier = new ArrayList<>(plan.updateOps());
    barrier.add(stepValue::op);
    barrier.add(loss::op);
    barrier.add(top1::op);
    barrier.add(lr::op);
    barrier.add(clipAll::op);
    barrier.addAll(collectiveOps);
    clipFractions.values().forEach(t -> barrier.add(t::op));
    SgdAgcOptimizer.Applied applied = plan.apply(tf, barrier);
    newValues = applied.newValues();
    List<Op> assigns = new ArrayList<>(applied.ops());

    // EMA slots for every parameter (frozen ones simply keep their value). Each average moves
    // towards its parameter's new value, so after that parameter's update.
    List<Op> emaSync = new ArrayList<>();
    ExponentialMovingAverage avg = o.emaDecay() > 0 ? new ExponentialMovingAverage(o.emaDecay())
        : null;
    if (avg != null) {
      Ops e = tf.withSubScope("ema_update");
      Operand<TFloat32> d = e.withName("decay").identity(avg.effectiveDecay(e, stepRead));
      for (VariableParameters.Entry en : params.entries()) {
        Variable<TFloat32> v = ema.get(en.spec().haikuKey());
        emaSync.add(e.assign(v, en.read()));
        Operand<TFloat32> nv = newValues.get(en.spec().haikuKey());
        if (nv != null) {
          assigns.add(ExponentialMovingAverage.apply(e, v, nv, d));
        }
      }
    }

    // Summaries: TF's own summary ops writing TensorBoard event files.
    List<Op> writes = new ArrayList<>();
    if (o.logDir() != null) {
      Ops s = root.withSubScope("summaries");
      Operand<? extends TType> writer = s.summary.summaryWriter(
          org.tensorflow.op.summary.SummaryWriter.sharedName("nfnet_train_writer"));
      summaryInit = s.summary.createSummaryFileWriter(writer,
          s.constant(o.logDir().toAbsolutePath().toString()), s.constant(10), s.constant(5000),
          s.constant(".v2"));
      Map<String, Operand<TFloat32>> scalars = new LinkedHashMap<>();
      scalars.put("train/loss", loss);
      scalars.put("train/top1", top1);
      scalars.put("train/learning_rate", lr);
      scalars.put("train/clip_fraction", clipAll);
      clipFractions.forEach((g, t) -> scalars.put("train/clip_fraction_" + g.tag(), t));
      scalars.forEach((tag, t) -> writes.add(s.summary.writeScalarSummary(writer, stepRead,
          s.constant(tag), t)));
      if (o.summaryImages() > 0) {
        writes.add(s.summary.writeImageSummary(writer, stepRead, s.constant("train/inputs"),
            batch.images(), s.constant(new byte[] {(byte) 255, 0, 0, (byte) 255}),
            org.tensorflow.op.summary.WriteImageSummary.maxImages((long) o.summaryImages())));
      }
      summaryFlush = s.summary.flushSummaryWriter(writer);
      evalTop1Value = s.placeholder(TFloat32.class);
      evalTop5Value = s.placeholder(TFloat32.class);
      evalSummaries = s.withControlDependencies(List.of(
          s.summary.writeScalarSummary(writer, stepRead, s.constant("eval/top1"), evalTop1Value),
          s.summary.writeScalarSummary(writer, stepRead, s.constant("eval/top5"), evalTop5Value),
          summaryFlush)).noOp();
    } else {
      summaryInit = null;
      summaryFlush = null;
      evalSummaries = null;
      evalTop1Value = null;
      evalTop5Value = null;
    }

    Ops done = tf.withSubScope("train");
    trainOp = done.withControlDependencies(List.of(done.withControlDependencies(assigns)
        .assignAdd(globalStep, done.constant(1L)))).withName("step").noOp();
    if (writes.isEmpty()) {
      trainOpLogged = trainOp;
    } else {
      List<Op> deps = new ArrayList<>(assigns);
      deps.addAll(writes);
      trainOpLogged = done.withControlDependencies(List.of(done.withControlDependencies(deps)
          .assignAdd(globalStep, done.constant(1L)))).withName("step_logged").noOp();
    }

    // Evaluation with the EMA weights, inference-mode forward.
    evalInput = input.eval();
    if (evalInput != null) {
      Ops ev = tf.withSubScope("eval");
      InputSource.Batch eb = evalInput.build(ev.withSubScope("input"), stepRead);
      evalInit = eb.initializers();
      ParameterSource evalParams = (module, spec, init) -> {
        Variable<TFloat32> v = ema.get(spec.haikuKey());
        return v != null ? module.withName(spec.name() + "_ema").identity(v)
            : params.entry(spec.haikuKey()).read();
      };
      NFNetOutputs eo = new NFNet(model).build(ev, eb.images(), evalParams,
          ForwardOptions.inference().withFusedStandardization(FusedWeightStandardization.supported()));
      Ops em = ev.withSubScope("metrics");
      Operand<TFloat32> perEx = em.math.neg(em.reduceSum(em.math.mul(
          LabelSmoothingLoss.targets(em, eb.labels(), model.numClasses(), 0.0),
          em.nn.logSoftmax(eo.logits())), em.constant(1)));
      evalLossSum = em.reduceSum(perEx, em.constant(0));
      evalTop1 = em.reduceSum(inTopK(em, eo.logits(), eb.labels(), 1), em.constant(0));
      evalTop5 = em.reduceSum(inTopK(em, eo.logits(), eb.labels(),
          Math.min(5, model.numClasses())), em.constant(0));
      evalCount = em.size(eb.labels(), TInt32.class);
    } else {
      evalInit = List.of();
      evalLossSum = null;
      evalTop1 = null;
      evalTop5 = null;
      evalCount = null;
    }

    // Initialisation ops, run explicitly (never by TF Java's auto-init, so restore is safe).
    Ops init = root.withSubScope("init");
    initParams = params.initializer(init, init.constant(new long[] {o.seed(), 0x1234L}));
    List<Op> reset = new ArrayList<>(plan.momentumReset());
    reset.add(init.assign(globalStep, init.constant(0L)));
    resetState = init.withControlDependencies(reset).withName("reset_optimizer").noOp();
    syncEma = init.withControlDependencies(emaSync).withName("sync_ema").noOp();

    // Host-value loaders, created up front: adding ops after the first run (as the zoo's
    // per-parameter loader does) makes every later run re-prepare the whole graph.
    Ops ld = root.withSubScope("load");
    for (VariableParameters.Entry en : params.entries()) {
      var ph = ld.placeholder(TFloat32.class,
          org.tensorflow.op.core.Placeholder.shape(Shape.of(en.spec().shape())));
      loadValues.put(en.spec().haikuKey(), ph);
      loadAssigns.put(en.spec().haikuKey(), ld.assign(en.variable(), ph));
    }

    if (dp == null) {
      session = new Session(graph, sessionConfig(o));
    } else if (dp.server() == null) {
      session = new Session(graph, dp.sessionConfig(sessionConfig(o)));
    } else {
      // A session on this task's gRPC master (group leader, device filter, virtual CPUs).
      session = org.nfnet.training.distributed.TargetedSession.open(graph, dp.server().target(),
          dp.sessionConfig(sessionConfig(o)));
    }
  }

  /** Rows of tower {@code d} of {@code n} of a batch, sliced in the tower's scope. */
  private static InputSource.Batch towerSlice(Ops td, InputSource.Batch b, int d, int n) {
    Ops s = td.withSubScope("tower_input");
    return new InputSource.Batch(rows(s, b.images(), d, n), rows(s, b.labels(), d, n),
        b.targets() == null ? null : rows(s, b.targets(), d, n), List.of());
  }

  private static <T extends TType> Operand<T> rows(Ops tf, Operand<T> x, int d, int n) {
    long rows = x.shape().get(0);
    if (rows < 0 || x.shape().isUnknown()) {
      // Unknown static batch: split dynamically.
      return tf.split(tf.constant(0), x, (long) n).output().get(d);
    }
    int rank = x.shape().numDimensions();
    int[] begin = new int[rank];
    int[] size = new int[rank];
    java.util.Arrays.fill(size, -1);
    begin[0] = (int) (d * rows / n);
    size[0] = (int) (rows / n);
    return tf.slice(x, tf.constant(begin), tf.constant(size));
  }

  /** Builds the graph and session; variables are uninitialised until {@link #initialize()} or a restore. */
  public static TrainStep create(NFNetConfig model, InputSource input, Options options) {
    return new TrainStep(model, input, options);
  }

  static ConfigProto sessionConfig(Options o) {
    ConfigProto.Builder b = ConfigProto.newBuilder().setAllowSoftPlacement(true);
    if (o.xla()) {
      // Grappler's remapper runs before XLA clustering and, on CPU, rewrites Conv2D/MatMul + BiasAdd
      // into _FusedConv2D/_FusedMatMul, which have no XLA kernel: every such node splits the step
      // into separate clusters (XlaClusterReport: 39 clusters with remapping, 6 without). TF skips
      // this fusion under auto-clustering only on GPU, so switch it off here to compile the step
      // the way it would compile on an accelerator.
      b.setGraphOptions(GraphOptions.newBuilder()
          .setOptimizerOptions(OptimizerOptions.newBuilder()
              .setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_2))
          .setRewriteOptions(RewriterConfig.newBuilder()
              .setRemapping(RewriterConfig.Toggle.OFF)));
    }
    return b.build();
  }

  static DeviceSpec parseDevice(String device) {
    String d = device.trim();
    if (d.startsWith("/device:")) {
      d = d.substring("/device:".length());
    } else if (d.startsWith("/")) {
      d = d.substring(1);
    }
    String[] parts = d.split(":");
    DeviceSpec.Builder b = DeviceSpec.newBuilder()
        .deviceType(DeviceSpec.DeviceType.valueOf(parts[0].toUpperCase(java.util.Locale.ROOT)));
    if (parts.length > 1) {
      b.deviceIndex(Integer.parseInt(parts[1]));
    }
    return b.build();
  }

  private static Operand<TFloat32> accuracy(Ops tf, Operand<TFloat32> logits,
      Operand<TInt32> labels, int k) {
    return tf.math.mean(inTopK(tf, logits, labels, k), tf.constant(0));
  }

  private static Operand<TFloat32> inTopK(Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels,
      int k) {
    if (k == 1) {
      // argmax rather than InTopK: InTopK counts ties as hits, argmax matches DeepMind's top-1.
      Operand<TBool> hit = tf.math.equal(tf.math.argMax(logits, tf.constant(1), TInt32.class),
          labels);
      return tf.dtypes.cast(hit, TFloat32.class);
    }
    return tf.dtypes.cast(tf.nn.inTopK(logits, labels, tf.constant(k)), TFloat32.class);
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

  /** Sets every EMA slot to the current parameter value. */
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
    if (summaryInit != null) {
      session.runner().addTarget(summaryInit).run();
    }
  }

  /**
   * Assigns host values to parameters (fine-tuning from a release file or an export).
   *
   * @param only Haiku keys to load, or null for all
   */
  public void loadParameters(Function<ParameterSpec, TFloat32> values, Set<String> only) {
    // Batched in runs of ~256 MB of host values: few distinct run signatures, bounded memory.
    List<TFloat32> open = new ArrayList<>();
    var runner = session.runner();
    long bytes = 0;
    try {
      for (VariableParameters.Entry en : params.entries()) {
        String key = en.spec().haikuKey();
        if (only != null && !only.contains(key)) {
          continue;
        }
        TFloat32 t = values.apply(en.spec());
        open.add(t);
        if (!t.shape().equals(Shape.of(en.spec().shape()))) {
          throw new IllegalArgumentException("value for " + key + " has shape " + t.shape()
              + ", expected " + en.spec().shapeString());
        }
        runner.feed(loadValues.get(key), t).addTarget(loadAssigns.get(key));
        bytes += 4 * en.spec().size();
        if (bytes > (256L << 20)) {
          runner.run();
          open.forEach(TFloat32::close);
          open.clear();
          runner = session.runner();
          bytes = 0;
        }
      }
      if (!open.isEmpty()) {
        runner.run();
      }
    } finally {
      open.forEach(TFloat32::close);
    }
  }

  /** One training step; with {@code log} also writes the TensorBoard summaries of this step. */
  public StepMetrics run(boolean log) {
    var r = session.runner().addTarget(log ? trainOpLogged : trainOp)
        .fetch(stepValue).fetch(loss).fetch(top1).fetch(lr).fetch(plan.clipFraction());
    List<ParameterGroup> groups = new ArrayList<>(clipFractions.keySet());
    groups.forEach(g -> r.fetch(clipFractions.get(g)));
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
    return evalInput != null;
  }

  /** Evaluates {@code batches} eval batches (restarting the eval stream first). */
  public EvalMetrics evaluate(int batches) {
    if (evalInput == null) {
      throw new IllegalStateException("the input has no eval split");
    }
    if (!evalInit.isEmpty()) {
      var r = session.runner();
      evalInit.forEach(r::addTarget);
      r.run();
    }
    long n = 0;
    double lossSum = 0;
    double c1 = 0;
    double c5 = 0;
    for (int i = 0; i < batches; i++) {
      try (Result res = session.runner().fetch(evalLossSum).fetch(evalTop1).fetch(evalTop5)
          .fetch(evalCount).run()) {
        lossSum += ((TFloat32) res.get(0)).getFloat();
        c1 += ((TFloat32) res.get(1)).getFloat();
        c5 += ((TFloat32) res.get(2)).getFloat();
        n += ((TInt32) res.get(3)).getInt();
      } catch (org.tensorflow.exceptions.TFOutOfRangeException end) {
        break; // a finite eval stream ended early
      }
    }
    long step = globalStep();
    EvalMetrics em = new EvalMetrics(step, n, n == 0 ? Double.NaN : lossSum / n,
        n == 0 ? Double.NaN : c1 / n, n == 0 ? Double.NaN : c5 / n);
    if (evalSummaries != null && n > 0) {
      try (TFloat32 a = TFloat32.scalarOf((float) em.top1());
          TFloat32 b = TFloat32.scalarOf((float) em.top5())) {
        session.runner().feed(evalTop1Value, a).feed(evalTop5Value, b).addTarget(evalSummaries)
            .run();
      }
    }
    return em;
  }

  /** Eval batches per full pass of the eval split. */
  public int evalBatches() {
    return evalInput == null ? 0
        : (int) ((evalInput.size() + evalInput.batchSize() - 1) / evalInput.batchSize());
  }

  public long globalStep() {
    try (Result r = session.runner().fetch(stepRead).run()) {
      return ((TInt64) r.get(0)).getLong();
    }
  }

  public void flushSummaries() {
    if (summaryFlush != null) {
      session.runner().addTarget(summaryFlush).run();
    }
  }

  /** Current values of the EMA weights (or raw weights without EMA), Haiku key -> values. */
  public Map<String, float[]> evalWeights() {
    Map<String, Operand<TFloat32>> ts = new LinkedHashMap<>();
    for (VariableParameters.Entry e : params.entries()) {
      Variable<TFloat32> v = ema.get(e.spec().haikuKey());
      ts.put(e.spec().haikuKey(), v != null ? v : e.read());
    }
    return fetchAll(ts);
  }

  /** Current raw parameter values, Haiku key -> values. */
  public Map<String, float[]> weights() {
    Map<String, Operand<TFloat32>> ts = new LinkedHashMap<>();
    for (VariableParameters.Entry e : params.entries()) {
      ts.put(e.spec().haikuKey(), e.read());
    }
    return fetchAll(ts);
  }

  /** Fetches float tensors (fed nothing: variables and constants only) in one run. */
  public Map<String, float[]> fetchAll(Map<String, Operand<TFloat32>> tensors) {
    var r = session.runner();
    tensors.values().forEach(r::fetch);
    Map<String, float[]> out = new LinkedHashMap<>();
    try (Result res = r.run()) {
      int i = 0;
      for (String k : tensors.keySet()) {
        TFloat32 v = (TFloat32) res.get(i++);
        float[] a = new float[(int) v.size()];
        v.asRawTensor().data().asFloats().read(a);
        out.put(k, a);
      }
    }
    return out;
  }

  public Graph graph() {
    return graph;
  }

  public Session session() {
    return session;
  }

  public VariableParameters parameters() {
    return params;
  }

  public SgdAgcOptimizer.Plan plan() {
    return plan;
  }

  /**
   * A trainable parameter's value after this step's update (by Haiku key); fetch it in the same
   * run as {@link #trainOp()}.
   */
  public Operand<TFloat32> newValue(String haikuKey) {
    return newValues.get(haikuKey);
  }

  public Options options() {
    return options;
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

  /** The data-parallel setup, or null. */
  public DataParallel parallel() {
    return options.parallel();
  }

  public Op trainOp() {
    return trainOp;
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
