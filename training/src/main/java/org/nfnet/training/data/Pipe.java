package org.nfnet.training.data;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.data.IgnoreErrorsDataset;
import org.tensorflow.op.data.Iterator;
import org.tensorflow.op.data.IteratorGetNext;
import org.tensorflow.op.data.ParallelMapDataset;
import org.tensorflow.op.data.ShuffleDataset;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * Thin immutable wrapper over the raw {@code tf.data} ops of TF Java 1.1 (which has no high-level
 * Dataset API in core): a dataset variant plus its element types and shapes.
 *
 * <p>Map functions are real TF functions: {@link ConcreteFunction#create} builds them in their own
 * graph and {@code ParallelMapDataset}'s {@code f} attribute attaches them to the pipeline's graph.
 */
final class Pipe {
  private static final AtomicLong IDS = new AtomicLong();

  final Ops tf;
  final Operand<? extends TType> handle;
  final List<Class<? extends TType>> types;
  final List<Shape> shapes;

  private Pipe(
      Ops tf, Operand<? extends TType> handle, List<Class<? extends TType>> types, List<Shape> shapes) {
    this.tf = tf;
    this.handle = handle;
    this.types = List.copyOf(types);
    this.shapes = List.copyOf(shapes);
  }

  /** Slices each component along its first dimension. */
  static Pipe slices(Ops tf, List<Operand<?>> components) {
    List<Class<? extends TType>> types = new ArrayList<>();
    List<Shape> shapes = new ArrayList<>();
    for (Operand<?> c : components) {
      types.add(c.type());
      Shape s = c.shape();
      shapes.add(s.isUnknown() ? Shape.unknown() : s.tail());
    }
    return new Pipe(tf, tf.data.tensorSliceDataset(components, shapes), types, shapes);
  }

  /** Infinite stream start, start + 1, ... (int64 scalars). */
  static Pipe counter(Ops tf, long start) {
    return new Pipe(
        tf,
        tf.data.rangeDataset(
            tf.constant(start), tf.constant(Long.MAX_VALUE), tf.constant(1L),
            List.of(TInt64.class), List.of(Shape.scalar())),
        List.of(TInt64.class),
        List.of(Shape.scalar()));
  }

  Pipe shuffle(long buffer, long seed) {
    return new Pipe(
        tf,
        tf.data.shuffleDataset(
            handle, tf.constant(buffer), tf.constant(seed), tf.constant(seed ^ 0x5DEECE66DL),
            tf.random.dummySeedGenerator(), types, shapes,
            ShuffleDataset.reshuffleEachIteration(true)),
        types,
        shapes);
  }

  /** Drops the first {@code count} elements. */
  Pipe skip(long count) {
    if (count == 0) return this;
    return new Pipe(tf, tf.data.skipDataset(handle, tf.constant(count), types, shapes), types, shapes);
  }

  Pipe repeat() {
    return new Pipe(tf, tf.data.repeatDataset(handle, tf.constant(-1L), types, shapes), types, shapes);
  }

  Pipe batch(long batchSize, boolean dropRemainder) {
    List<Shape> out = new ArrayList<>();
    for (Shape s : shapes) out.add(Shape.of(dropRemainder ? batchSize : Shape.UNKNOWN_SIZE).append(s));
    return new Pipe(
        tf,
        tf.data.batchDataset(handle, tf.constant(batchSize), tf.constant(dropRemainder), types, out),
        types,
        out);
  }

  /** Appends a running int64 element index as the last component (used to derive stateless seeds). */
  Pipe withIndex(long start) {
    Pipe c = counter(tf, start);
    List<Class<? extends TType>> t = new ArrayList<>(types);
    t.add(TInt64.class);
    List<Shape> s = new ArrayList<>(shapes);
    s.add(Shape.scalar());
    return new Pipe(tf, tf.data.zipDataset(List.of(handle, c.handle), t, s), t, s);
  }

  /**
   * Maps a function over elements. {@code fn} receives the function graph's {@link Ops} and one
   * placeholder per component; it returns the output components, whose types and static shapes
   * become the new element spec.
   */
  Pipe map(
      BiFunction<Ops, List<Operand<?>>, List<Operand<?>>> fn, int parallelCalls, boolean deterministic) {
    List<Class<? extends TType>> outTypes = new ArrayList<>();
    List<Shape> outShapes = new ArrayList<>();
    ConcreteFunction f =
        ConcreteFunction.create(
            ftf -> {
              List<Operand<?>> args = new ArrayList<>();
              Signature.Builder sig =
                  Signature.builder().methodName("map_fn_" + IDS.incrementAndGet());
              for (int i = 0; i < types.size(); i++) {
                Operand<?> p = ftf.placeholder(types.get(i), Placeholder.shape(shapes.get(i)));
                args.add(p);
                sig.input(String.format("in%02d", i), p);
              }
              List<Operand<?>> outs = fn.apply(ftf, args);
              for (int i = 0; i < outs.size(); i++) {
                Operand<?> o = outs.get(i);
                outTypes.add(o.type());
                outShapes.add(o.shape());
                sig.output(String.format("out%02d", i), o);
              }
              return sig.build();
            });
    Operand<? extends TType> mapped =
        tf.data.parallelMapDataset(
            handle, List.of(), tf.constant((long) parallelCalls), f, outTypes, outShapes,
            ParallelMapDataset.deterministic(deterministic ? "true" : "false"));
    return new Pipe(tf, mapped, outTypes, outShapes);
  }

  /** Drops elements whose production raised an error (e.g. an undecodable image). */
  Pipe ignoreErrors() {
    return new Pipe(
        tf,
        tf.data.ignoreErrorsDataset(handle, types, shapes, IgnoreErrorsDataset.logWarning(true)),
        types,
        shapes);
  }

  Pipe prefetch(long buffer) {
    return new Pipe(tf, tf.data.prefetchDataset(handle, tf.constant(buffer), types, shapes), types, shapes);
  }

  /** A graph iterator over this pipeline. */
  record Iter(List<Operand<?>> next, Op initializer) {}

  Iter iterate() {
    Iterator it =
        tf.data.iterator("", "", types, shapes);
    Op init = tf.data.makeIterator(handle, it);
    IteratorGetNext next = tf.data.iteratorGetNext(it, types, shapes);
    List<Operand<?>> comps = new ArrayList<>();
    for (var o : next.components()) comps.add(o);
    return new Iter(comps, init);
  }
}
