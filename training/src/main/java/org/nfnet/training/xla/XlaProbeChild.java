package org.nfnet.training.xla;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.nfnet.training.StepConfig;
import org.nfnet.training.StepSession;
import org.nfnet.training.TrainStep;
import org.nfnet.training.TrainingConfig;
import org.nfnet.training.data.DataOptions;
import org.nfnet.training.data.FashionMnist;
import org.nfnet.training.data.InputSource;
import org.nfnet.training.data.SyntheticInput;
import org.nfnet.training.distributed.DataParallel;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.ResourceParameters;
import org.nfnet.zoo.graph.ResourceVariables;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * The child side of {@link XlaProbe}: builds one graph, runs it in a global-JIT session and in a
 * plain one, and prints {@code key: values} lines (losses or logits, timings) on stdout.
 * Arguments: kind variant res batch steps input benchRounds.
 */
public final class XlaProbeChild {
  private XlaProbeChild() {}

  public static void main(String[] a) {
    XlaProbe.Kind kind = XlaProbe.Kind.of(a[0]);
    NFNetConfig model = NFNetConfig.resolve(a[1]);
    int res = Integer.parseInt(a[2]);
    int batch = Integer.parseInt(a[3]);
    int steps = Integer.parseInt(a[4]);
    String in = a[5];
    int rounds = Integer.parseInt(a[6]);
    if (kind == XlaProbe.Kind.INFERENCE) {
      inference(model, res, batch, rounds);
      return;
    }
    InputSource input;
    if (in.equals("synthetic")) {
      input = new SyntheticInput(model.numClasses(), batch, res, 1000, 3L);
    } else if (in.equals("fashion")) {
      FashionMnist fm = FashionMnist.load("fashion-mnist-subset");
      DataOptions d = DataOptions.of(res, res).withParallelCalls(1).withPrefetch(1)
          .withShuffleBuffer(256);
      input = fm.input(d, batch, 0L);
      model = model.withNumClasses(input.numClasses());
    } else {
      throw new IllegalArgumentException("unknown input '" + in + "' (synthetic or fashion)");
    }
    float[][] losses = new float[2][steps];
    for (int x = 0; x < 2; x++) {
      boolean xla = x == 0;
      losses[x] = trainStep(model, input, steps, xla, kind == XlaProbe.Kind.TRAIN_2CPU,
          kind == XlaProbe.Kind.TRAIN_RECOMPUTE);
    }
    print("losses_xla", losses[0]);
    print("losses_plain", losses[1]);
    System.out.printf(Locale.ROOT, "max_rel_diff: %.3g%n", maxRel(losses[0], losses[1]));
  }

  /**
   * The step with the options {@code nfnet train --xla} uses (CLI defaults: stochastic depth,
   * dropout, AGC, Nesterov, EMA, warm-up + cosine schedule).
   */
  private static float[] trainStep(NFNetConfig model, InputSource input, int steps, boolean xla,
      boolean towers, boolean recompute) {
    DataParallel dp = towers ? DataParallel.local(2, DeviceSpec.DeviceType.CPU) : null;
    TrainingConfig cfg = TrainingConfig.defaults(model, Math.max(steps, 10), null)
        .with(b -> b.step(st -> st.xla(xla).parallel(dp).recompute(recompute)));
    StepConfig o = cfg.step().with(b -> b.schedule(cfg.schedule(input.size(), input.batchSize())));
    float[] l = new float[steps];
    try (TrainStep s = TrainStep.create(model, input, o)) {
      s.initialize();
      for (int i = 0; i < steps; i++) {
        l[i] = (float) s.run(false).loss();
      }
    }
    return l;
  }

  /** The inference forward on resource variables: logits with and without XLA, and timing. */
  private static void inference(NFNetConfig model, int res, int batch, int rounds) {
    float[] pixels = new float[batch * res * res * 3];
    Random r = new Random(5);
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (float) r.nextGaussian();
    }
    try (Graph g = new Graph();
        TFloat32 x = TFloat32.tensorOf(Shape.of(batch, res, res, 3), DataBuffers.of(pixels))) {
      Ops tf = Ops.create(g);
      ResourceVariables vars = new ResourceVariables();
      Placeholder<TFloat32> images = tf.withName("images").placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(batch, res, res, 3)));
      ResourceParameters params = new ResourceParameters(vars, tf.constant(new long[] {1, 2}));
      Operand<TFloat32> logits = tf.withName("logits").identity(
          new NFNet(model).build(tf, images, params, ForwardOptions.inference()).logits());
      Op init = vars.initializer(tf.withName("init"));
      try (Session xla = new Session(g, StepSession.config(true));
          Session plain = new Session(g, StepSession.config(false))) {
        float[][] out = new float[2][];
        Session[] ss = {xla, plain};
        for (int k = 0; k < 2; k++) {
          ss[k].runner().addTarget(init).run();
          out[k] = run(ss[k], images, x, logits);
        }
        System.out.printf(Locale.ROOT, "logits_max_rel_diff: %.3g%n", maxRel(out[0], out[1]));
        if (rounds > 0) {
          bench(ss, images, x, logits, rounds);
        }
      }
    }
  }

  /** Interleaved rounds of 5 runs per session; medians of per-round times and ratios. */
  private static void bench(Session[] ss, Placeholder<TFloat32> images, TFloat32 x,
      Operand<TFloat32> logits, int rounds) {
    for (Session s : ss) {
      for (int w = 0; w < 3; w++) {
        run(s, images, x, logits); // warm-up (compilation)
      }
    }
    List<double[]> ms = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      double[] t = new double[2];
      for (int k = 0; k < 2; k++) {
        long t0 = System.nanoTime();
        for (int j = 0; j < 5; j++) {
          run(ss[k], images, x, logits);
        }
        t[k] = (System.nanoTime() - t0) / 5e6;
      }
      ms.add(t);
    }
    double[] xla = ms.stream().mapToDouble(t -> t[0]).sorted().toArray();
    double[] plain = ms.stream().mapToDouble(t -> t[1]).sorted().toArray();
    double[] ratio = ms.stream().mapToDouble(t -> t[0] / t[1]).sorted().toArray();
    System.out.printf(Locale.ROOT, "ms_per_batch_xla: %.2f%nms_per_batch_plain: %.2f%n"
        + "median_ratio_xla_over_plain: %.3f%n", xla[xla.length / 2], plain[plain.length / 2],
        ratio[ratio.length / 2]);
  }

  private static float[] run(Session s, Placeholder<TFloat32> images, TFloat32 x,
      Operand<TFloat32> logits) {
    try (Result r = s.runner().feed(images, x).fetch(logits).run()) {
      TFloat32 t = (TFloat32) r.get(0);
      float[] v = new float[(int) t.size()];
      t.asRawTensor().data().asFloats().read(v);
      return v;
    }
  }

  private static void print(String key, float[] v) {
    StringBuilder b = new StringBuilder(key).append(':');
    for (float f : v) {
      b.append(' ').append(f);
    }
    System.out.println(b);
  }

  static double maxRel(float[] a, float[] b) {
    double scale = 0;
    for (float v : b) {
      scale = Math.max(scale, Math.abs(v));
    }
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-3 * scale));
    }
    return a.length == b.length ? m : Double.NaN;
  }

}
