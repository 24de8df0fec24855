package org.nfnet.training;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.training.data.Batch;
import org.nfnet.zoo.graph.ParameterSource;
import org.nfnet.zoo.graph.ResourceParameters;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Copy;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * A replica tower (d > 0) as one TF function called from the tower's device scope, so that its
 * backward runs on that device too.
 *
 * <p>Why a function: {@code Graph.addGradients} (TF's C {@code TF_AddGradientsWithPrefix}) builds
 * the backward in a scope without a device, and TF Java has no
 * {@code colocate_gradients_with_ops}, so in the step's graph TF's placer put most of a replica's
 * backward on device 0. Here the forward, loss, top-1 and the gradients are built in the
 * function's own graph; the call op carries the tower's device, and TF
 * places every body node without a device on the call's device when it inlines the call (before
 * placement and before XLA clustering). Inputs: the tower's rows of the batch, the mask seed and
 * the values of the parameters (read where the variables live, on device 0); outputs: loss,
 * top-1 and one gradient per trainable parameter.
 *
 * <p>Under XLA every input first passes through a {@code Copy} on the tower's device. XLA's
 * clustering never merges a cluster whose producer is a compilable op on another device (here
 * the parameter reads, which TF colocates with the variables on device 0), so without it the
 * tower split into ~170 small clusters; {@code Copy} has no XLA kernel, so the tower's cluster has
 * no producer on another device and the whole tower compiles as one cluster (at the cost of one
 * device-local copy of the parameters per step, next to the transfer from device 0 they need
 * anyway). Without XLA the inputs go to the call directly.
 */
final class TowerFunction {
  /** The tower's loss, top-1 and gradients (order of the trainable parameters). */
  record Outputs(Operand<TFloat32> loss, Operand<TFloat32> top1,
      List<Operand<TFloat32>> grads) {}

  /** The forward, loss and top-1 of one tower, built in any graph. */
  interface Body {
    /** The forward, loss and top-1, ready to be differentiated. */
    Towers.Pass build(Ops tf, Batch rows, Operand<TInt64> seed, ParameterSource src);
  }

  private TowerFunction() {}

  /**
   * Builds the function and calls it in {@code td} (the tower's device and scope).
   *
   * @param function the function's name, unique in the step's graph
   * @param name the call op's name in {@code td}
   * @param seed the tower's mask seed, int64 [2], built in {@code td}
   */
  static Outputs call(Ops td, String function, String name, Batch rows, Operand<TInt64> seed,
      ResourceParameters params, List<ResourceParameters.Entry> trainable, boolean xla,
      Body body) {
    try (Graph fg = new Graph()) {
      Ops f = Ops.create(fg);
      Signature.Builder sig = Signature.builder().key(function);
      Map<String, Operand<?>> args = new LinkedHashMap<>();
      Batch in = new Batch(input(f, sig, args, "images", rows.images(), TFloat32.class),
          input(f, sig, args, "labels", rows.labels(), TInt32.class),
          rows.targets() == null ? null
              : input(f, sig, args, "targets", rows.targets(), TFloat32.class), List.of());
      Operand<TInt64> s = input(f, sig, args, "seed", seed, TInt64.class);
      // Each parameter the forward asks for becomes an input, fed with a read in the step's graph
      // (float values: the function takes no resource handles).
      Map<String, Operand<TFloat32>> values = new LinkedHashMap<>();
      ParameterSource src = (module, spec, init) -> {
        Operand<TFloat32> v = module.withName(spec.name()).placeholder(TFloat32.class,
            Placeholder.shape(Shape.of(spec.shape())));
        String arg = "p" + values.size();
        values.put(spec.haikuKey(), v);
        sig.input(arg, v);
        args.put(arg, params.entry(spec.haikuKey()).variable()
            .read(td.withName(spec.name() + "_read")));
        return v;
      };
      Towers.Pass out = body.build(f, in, s, src);
      sig.output("loss", out.loss()).output("top1", out.top1());
      List<Operand<TFloat32>> dys = out.gradients(fg, f,
          trainable.stream().map(e -> values.get(e.spec().haikuKey())).toList());
      for (int i = 0; i < dys.size(); i++) {
        sig.output("g" + i, dys.get(i));
      }
      if (xla) {
        args.replaceAll((k, x) -> Copy.create(td.withName(k + "_copy").scope(), x));
      }
      Map<String, Operand<?>> res;
      try (ConcreteFunction fn = ConcreteFunction.create(sig.build(), fg)) {
        res = fn.call(td.withName(name), args);
      }
      List<Operand<TFloat32>> grads = new ArrayList<>();
      for (int i = 0; i < dys.size(); i++) {
        grads.add(cast(res.get("g" + i)));
      }
      return new Outputs(cast(res.get("loss")), cast(res.get("top1")), grads);
    }
  }

  /** A placeholder of {@code x}'s type and static shape, registered as input {@code name}. */
  private static <T extends TType> Operand<T> input(Ops f, Signature.Builder sig,
      Map<String, Operand<?>> args, String name, Operand<T> x, Class<T> type) {
    Operand<T> p = f.withName(name).placeholder(type, Placeholder.shape(x.shape()));
    sig.input(name, p);
    args.put(name, x);
    return p;
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat32> cast(Operand<?> x) {
    return (Operand<TFloat32>) x;
  }
}
