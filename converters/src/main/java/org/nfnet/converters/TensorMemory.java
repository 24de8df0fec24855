package org.nfnet.converters;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.tensorflow.ndarray.buffer.DataStorageVisitor;
import org.tensorflow.types.TFloat32;

/**
 * A writable direct {@link ByteBuffer} over a TF tensor's own native memory, so the reader can copy
 * file bytes straight into the tensor that feeds TensorFlow.
 *
 * <p>Why: the obvious {@code TFloat32.tensorOf(shape, DataBuffers.of(floatBuffer))} needs a second,
 * Java-side buffer for the values, and TF Java copies a direct NIO buffer into tensor memory one
 * float at a time through an interface call (its visitor has no NIO-to-native bulk path): 1.5 s
 * for 283 MB in a fresh JVM, measured, until the JIT compiles the loop. Tensor memory is reached
 * through the public ndarray {@link DataStorageVisitor}: TF Java's raw tensor buffer reports its
 * native address (wrapped here with JavaCPP, TF Java's own native layer); when TF Java runs
 * without {@code Unsafe} it hands out a direct NIO buffer instead. When neither applies the caller
 * falls back to copying.
 *
 * <p>The buffer is only valid while the tensor is open.
 */
final class TensorMemory {
  private TensorMemory() {}

  /** The tensor's bytes as a native-order direct buffer of {@code numBytes()}, if reachable. */
  static Optional<ByteBuffer> writableBytes(TFloat32 t) {
    long size = t.numBytes();
    ByteBuffer b = t.asRawTensor().data().accept(new DataStorageVisitor<ByteBuffer>() {
      @Override
      public ByteBuffer visit(ByteBuffer buffer) {
        return buffer.isDirect() && !buffer.isReadOnly() ? buffer.duplicate() : null;
      }

      @Override
      public ByteBuffer visit(long base, long length, long scale) {
        if (base == 0 || length < size || size > Integer.MAX_VALUE) {
          return null;
        }
        // The anonymous Pointer only carries the address (its protected field; the parameter
        // is not called 'address' so that it is not shadowed here). A BytePointer copied from it
        // has an element size of exactly 1 (subclasses get theirs from JavaCPP's class lookup).
        Pointer at = new Pointer() {
          {
            address = base;
          }
        };
        return new BytePointer(at).capacity(size).asByteBuffer();
      }

      @Override
      public ByteBuffer fallback() {
        return null;
      }
    });
    if (b == null || b.capacity() < size) {
      return Optional.empty();
    }
    b.clear().limit((int) size);
    return Optional.of(b.slice().order(ByteOrder.nativeOrder()));
  }
}
