package org.nfnet.training;

import java.util.List;
import org.nfnet.training.data.Batch;
import org.nfnet.training.data.InputSource;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.graph.ForwardOptions;
import org.nfnet.zoo.graph.FusedWeightStandardization;
import org.nfnet.zoo.graph.NFNet;
import org.nfnet.zoo.graph.NFNetOutputs;
import org.nfnet.zoo.graph.ParameterSource;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TFOutOfRangeException;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Evaluation on the held-out split in the training graph: inference-mode forward with the
 * evaluation weights (the EMA, or the raw weights without one), summed loss (no label smoothing),
 * top-1 and top-5 hits per batch.
 */
final class EvalGraph {
  private final InputSource input;
  private final List<Op> init;
  private final Operand<TFloat32> lossSum;
  private final Operand<TFloat32> top1;
  private final Operand<TFloat32> top5;
  private final Operand<TInt32> count;

  /** Counts of one pass. */
  record Totals(long examples, double lossSum, double top1, double top5) {}

  EvalGraph(Ops tf, NFNetConfig model, InputSource input, ParameterSource weights,
      Operand<TInt64> step) {
    this.input = input;
    Batch b = input.build(tf.withSubScope("input"), step);
    init = b.initializers();
    NFNetOutputs out = new NFNet(model).build(tf, b.images(), weights,
        ForwardOptions.inference().withFusedStandardization(FusedWeightStandardization.supported()));
    Ops m = tf.withSubScope("metrics");
    Operand<TFloat32> perExample = m.math.neg(m.reduceSum(m.math.mul(
        LabelSmoothingLoss.targets(m, b.labels(), model.numClasses(), 0.0),
        m.nn.logSoftmax(out.logits())), m.constant(1)));
    lossSum = m.reduceSum(perExample, m.constant(0));
    top1 = m.reduceSum(Towers.inTopK(m, out.logits(), b.labels(), 1), m.constant(0));
    top5 = m.reduceSum(Towers.inTopK(m, out.logits(), b.labels(), Math.min(5, model.numClasses())),
        m.constant(0));
    count = m.size(b.labels(), TInt32.class);
  }

  /** Batches per full pass of the eval split. */
  int batches() {
    return (int) ((input.size() + input.batchSize() - 1) / input.batchSize());
  }

  /** Restarts the eval stream and sums up to {@code batches} batches (fewer if it ends). */
  Totals run(Session session, int batches) {
    if (!init.isEmpty()) {
      var r = session.runner();
      init.forEach(r::addTarget);
      r.run();
    }
    long n = 0;
    double loss = 0;
    double c1 = 0;
    double c5 = 0;
    for (int i = 0; i < batches; i++) {
      try (Result res = session.runner().fetch(lossSum).fetch(top1).fetch(top5).fetch(count)
          .run()) {
        loss += ((TFloat32) res.get(0)).getFloat();
        c1 += ((TFloat32) res.get(1)).getFloat();
        c5 += ((TFloat32) res.get(2)).getFloat();
        n += ((TInt32) res.get(3)).getInt();
      } catch (TFOutOfRangeException end) {
        break; // a finite eval stream ended early
      }
    }
    return new Totals(n, loss, c1, c5);
  }
}
