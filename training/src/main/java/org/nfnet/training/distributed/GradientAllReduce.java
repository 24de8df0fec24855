package org.nfnet.training.distributed;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * The synchronous part of a data-parallel step: each tower's gradients are summed over all
 * replicas and divided by their number, which is the gradient of the global batch's mean loss;
 * clipping and the update then follow identically on every replica. Loss, top-1 and the global
 * step are all-reduced too (one small collective), the step to catch replicas that restored
 * different checkpoints.
 *
 * @param grads the replica-mean gradient of each parameter (tower 0's copy)
 * @param loss mean loss over the global batch
 * @param top1 mean top-1 over the global batch
 * @param ops every collective of this process plus the global-step check: all must run in the step
 *     (a collective that one replica skips blocks the others)
 */
public record GradientAllReduce(List<Operand<TFloat32>> grads, Operand<TFloat32> loss,
    Operand<TFloat32> top1, List<Op> ops) {
  /** Collective group key of the data-parallel step's all-reduces. */
  public static final int GROUP_KEY = 1;

  /**
   * @param towers each tower's scope (device included)
   * @param grads per tower, the local gradients (same parameter order in every tower)
   * @param loss per tower, its local mean loss
   * @param top1 per tower, its local top-1
   * @param metrics scope of the resulting {@code loss} and {@code top1}
   * @param step the global step before this update
   */
  public static GradientAllReduce build(DataParallel dp, List<Ops> towers,
      List<List<Operand<TFloat32>>> grads, List<Operand<TFloat32>> loss,
      List<Operand<TFloat32>> top1, Ops metrics, Operand<TInt64> step) {
    int g = dp.replicas();
    int k = grads.get(0).size();
    CollectiveAllReduce.Options co = dp.collectiveOptions();
    List<Op> ops = new ArrayList<>();
    List<Operand<TFloat32>> summed0 = null;
    Operand<TFloat32> metrics0 = null;
    for (int d = 0; d < towers.size(); d++) {
      Ops td = towers.get(d);
      List<Operand<TFloat32>> summed = CollectiveAllReduce.sum(td, grads.get(d), g, GROUP_KEY, 1,
          co);
      Ops tm = td.withSubScope("replica_metrics");
      Operand<TFloat32> local3 = tm.stack(List.of(loss.get(d), top1.get(d),
          tm.dtypes.cast(step, TFloat32.class)));
      Operand<TFloat32> all3 = CollectiveAllReduce.sum(tm, List.of(local3), g, GROUP_KEY, k + 2,
          co).get(0);
      summed.forEach(t -> ops.add(t::op));
      ops.add(all3::op);
      if (d == 0) {
        summed0 = summed;
        metrics0 = all3;
      }
    }
    Ops mm = metrics.withSubScope("mean");
    Operand<TFloat32> inv = mm.constant((float) g);
    List<Operand<TFloat32>> mean = new ArrayList<>(k);
    for (Operand<TFloat32> t : summed0) {
      mean.add(mm.math.div(t, inv));
    }
    Operand<TFloat32> mean3 = mm.math.div(metrics0, inv);
    Operand<TFloat32> meanLoss = metrics.withName("loss").identity(
        mm.gather(mean3, mm.constant(0), mm.constant(0)));
    Operand<TFloat32> meanTop1 = metrics.withName("top1").identity(
        mm.gather(mean3, mm.constant(1), mm.constant(0)));
    Operand<TFloat32> stepDiff = mm.math.abs(mm.math.sub(
        mm.gather(mean3, mm.constant(2), mm.constant(0)), mm.dtypes.cast(step, TFloat32.class)));
    ops.add(mm.withName("replicas_in_step").assertThat(
        mm.math.less(stepDiff, mm.constant(0.25f)),
        List.of(mm.constant("replicas are at different global steps (restored different"
            + " checkpoints?); this replica is at"), step)));
    return new GradientAllReduce(mean, meanLoss, meanTop1, ops);
  }
}
