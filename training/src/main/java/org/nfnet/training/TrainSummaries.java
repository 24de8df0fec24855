package org.nfnet.training;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.summary.SummaryWriter;
import org.tensorflow.op.summary.WriteImageSummary;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * TensorBoard event files written by TF's own summary ops: the step's scalars and input images on
 * logged steps ({@link #writes()}, run with the step), eval top-1/top-5 after an evaluation.
 */
final class TrainSummaries {
  private final Op open;
  private final Op flush;
  private final List<Op> writes = new ArrayList<>();
  private final Placeholder<TFloat32> evalTop1;
  private final Placeholder<TFloat32> evalTop5;
  private final Op evalWrites;

  /**
   * @param scalars tag -> float32 scalar of the step
   * @param images the step's input images (the first {@code maxImages} are written), or null
   */
  TrainSummaries(Ops tf, Path logDir, Operand<TInt64> step, Map<String, Operand<TFloat32>> scalars,
      Operand<TFloat32> images, int maxImages) {
    Operand<? extends TType> writer = tf.summary.summaryWriter(
        SummaryWriter.sharedName("nfnet_train_writer"));
    open = tf.summary.createSummaryFileWriter(writer,
        tf.constant(logDir.toAbsolutePath().toString()), tf.constant(10), tf.constant(5000),
        tf.constant(".v2"));
    scalars.forEach((tag, t) -> writes.add(tf.summary.writeScalarSummary(writer, step,
        tf.constant(tag), t)));
    if (images != null && maxImages > 0) {
      writes.add(tf.summary.writeImageSummary(writer, step, tf.constant("train/inputs"), images,
          tf.constant(new byte[] {(byte) 255, 0, 0, (byte) 255}),
          WriteImageSummary.maxImages((long) maxImages)));
    }
    flush = tf.summary.flushSummaryWriter(writer);
    evalTop1 = tf.placeholder(TFloat32.class);
    evalTop5 = tf.placeholder(TFloat32.class);
    evalWrites = tf.withControlDependencies(List.of(
        tf.summary.writeScalarSummary(writer, step, tf.constant("eval/top1"), evalTop1),
        tf.summary.writeScalarSummary(writer, step, tf.constant("eval/top5"), evalTop5),
        flush)).noOp();
  }

  /** The writes of one logged step. */
  List<Op> writes() {
    return writes;
  }

  /** Opens the event file (after initialisation or restore). */
  void open(Session session) {
    session.runner().addTarget(open).run();
  }

  void flush(Session session) {
    session.runner().addTarget(flush).run();
  }

  void writeEval(Session session, double top1, double top5) {
    try (TFloat32 a = TFloat32.scalarOf((float) top1); TFloat32 b = TFloat32.scalarOf((float) top5)) {
      session.runner().feed(evalTop1, a).feed(evalTop5, b).addTarget(evalWrites).run();
    }
  }
}
