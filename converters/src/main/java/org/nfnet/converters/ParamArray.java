package org.nfnet.converters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.nfnet.converters.payload.Payload;
import org.nfnet.zoo.ParameterNames;

/**
 * One weight array as found in a weight file: its Haiku identity, shape, stored dtype and byte
 * order, and where its bytes are. The bytes are not read until {@link #copyAsFloat32} is called,
 * so a 1.75 GB file can be inspected and validated with a few MB of heap.
 *
 * <p>Only valid while the {@link HaikuParams} it came from is open.
 */
public final class ParamArray {
  private final String module;
  private final String name;
  private final long[] shape;
  private final long elementCount;
  private final DType dtype;
  private final ByteOrder byteOrder;
  private final Payload payload;

  ParamArray(String module, String name, long[] shape, long elementCount, DType dtype,
      ByteOrder byteOrder, Payload payload) {
    this.module = module;
    this.name = name;
    this.shape = shape.clone();
    this.elementCount = elementCount;
    this.dtype = dtype;
    this.byteOrder = byteOrder;
    this.payload = payload;
  }

  /** Haiku module path, e.g. {@code NFNet/~/nf_block_3/~/conv1}. */
  public String module() {
    return module;
  }

  /** Parameter name inside the module, e.g. {@code w}. */
  public String name() {
    return name;
  }

  /** {@code module/name}, the key used by {@link org.nfnet.zoo.ParameterSpec#haikuKey()}. */
  public String haikuKey() {
    return ParameterNames.haikuKey(module, name);
  }

  public long[] shape() {
    return shape.clone();
  }

  public String shapeString() {
    return Arrays.toString(shape);
  }

  public long elementCount() {
    return elementCount;
  }

  /** The dtype the file stores; {@link #copyAsFloat32} converts it to float32. */
  public DType dtype() {
    return dtype;
  }

  /** Byte order of the stored data. */
  public ByteOrder byteOrder() {
    return byteOrder;
  }

  /** Offset of the raw data in the file, or -1 when it is not stored verbatim (deflated, latin-1). */
  public long fileOffset() {
    return payload.fileOffset();
  }

  /** Length of the raw stored data in bytes (elementCount x stored item size). */
  public long storedByteLength() {
    return payload.length();
  }

  /** Bytes needed by {@link #copyAsFloat32}: elementCount x 4. */
  public long float32ByteLength() {
    return elementCount * 4;
  }

  /**
   * Writes the values as float32 in native byte order (what TensorFlow's host tensors use) into
   * {@code dst} at its position and advances it by {@link #float32ByteLength()}. For float32 data
   * in native order with a direct {@code dst} this is one positional file read, no heap copy.
   *
   * @throws IllegalArgumentException if {@code dst} has less room than needed
   * @throws UncheckedIOException if the file cannot be read
   */
  public void copyAsFloat32(ByteBuffer dst) {
    if (dst.remaining() < float32ByteLength()) {
      throw new IllegalArgumentException(haikuKey() + " needs " + float32ByteLength()
          + " bytes but the destination has " + dst.remaining());
    }
    try {
      Float32Conversion.copy(payload, dtype, byteOrder, dst);
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + haikuKey() + ": " + e.getMessage(), e);
    }
  }

  /** A fresh direct, native-order float buffer with the values (convenient, allocates). */
  public FloatBuffer toFloatBuffer() {
    if (float32ByteLength() > Integer.MAX_VALUE) {
      throw new IllegalStateException(haikuKey() + " is too large for one buffer");
    }
    ByteBuffer b = ByteBuffer.allocateDirect((int) float32ByteLength()).order(ByteOrder.nativeOrder());
    copyAsFloat32(b);
    b.flip();
    return b.asFloatBuffer();
  }

  /** The values on the heap; meant for small arrays and tests. */
  public float[] toFloatArray() {
    FloatBuffer fb = toFloatBuffer();
    float[] a = new float[fb.remaining()];
    fb.get(a);
    return a;
  }

  @Override
  public String toString() {
    return haikuKey() + shapeString() + " " + dtype.pythonName()
        + (byteOrder == ByteOrder.BIG_ENDIAN ? " big-endian" : "");
  }
}
