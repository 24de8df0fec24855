package org.nfnet.savedmodel.serving;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A tensor as written in TF Serving's JSON: its shape and either numbers or byte strings. Numbers
 * are kept as float (exact for the uint8/int images and float32 inputs NFNet signatures take) and
 * remember whether all were JSON integers, so a DT_UINT8 input can refuse {@code 1.5}.
 * Filled while streaming, so a large request never exists as a JSON tree.
 */
public final class JsonTensor {
  private static final int MAX_RANK = 16;

  private final Long[] dims = new Long[MAX_RANK + 1];
  private int leafDepth = -1;
  private float[] numbers = new float[64];
  private int count;
  private boolean integral = true;
  private List<byte[]> strings;
  private boolean booleans;
  private long instances; // row format: instances that gave this named input so far

  /** Shape, numbers and strings of a finished tensor (for tests and the model adapter). */
  public long[] shape() {
    if (leafDepth < 0) {
      int d = 0;
      while (d <= MAX_RANK && dims[d] != null) {
        d++;
      }
      long[] s = new long[d];
      for (int i = 0; i < d; i++) {
        s[i] = dims[i];
      }
      return s;
    }
    long[] s = new long[leafDepth];
    for (int i = 0; i < leafDepth; i++) {
      s[i] = dims[i];
    }
    return s;
  }

  public boolean isStrings() {
    return strings != null;
  }

  /** Whether every number was written as a JSON integer. */
  public boolean allIntegral() {
    return integral;
  }

  public float[] numbers() {
    return Arrays.copyOf(numbers, count);
  }

  /** The numbers without a copy; valid up to {@link #size()}. */
  float[] numberBuffer() {
    return numbers;
  }

  public List<byte[]> strings() {
    return strings == null ? List.of() : strings;
  }

  public long size() {
    return strings != null ? strings.size() : count;
  }

  // ---------------------------------------------------------------- building (by the parser)

  long dims0() {
    return instances;
  }

  void countInstance() {
    instances++;
  }

  void dim(int depth, long n) throws HttpStatusException {
    if (depth > MAX_RANK) {
      throw new HttpStatusException(400, "tensor nested deeper than " + MAX_RANK + " levels");
    }
    if (dims[depth] == null) {
      dims[depth] = n;
    } else if (dims[depth] != n) {
      throw new HttpStatusException(400, "ragged tensor: lists at nesting level " + depth + " have "
          + dims[depth] + " and " + n + " elements; all must have the same length");
    }
  }

  private void leaf(int depth) throws HttpStatusException {
    if (leafDepth < 0) {
      leafDepth = depth;
    } else if (leafDepth != depth) {
      throw new HttpStatusException(400, "values at nesting levels " + leafDepth + " and " + depth
          + ": a tensor must be a regular nested list");
    }
  }

  void addNumber(int depth, float v, boolean isInt) throws HttpStatusException {
    leaf(depth);
    if (strings != null || booleans) {
      throw new HttpStatusException(400, "a tensor mixes numbers with strings or booleans");
    }
    if (count == numbers.length) {
      numbers = Arrays.copyOf(numbers, Math.max(64, numbers.length * 2));
    }
    numbers[count++] = v;
    integral &= isInt;
  }

  void addBoolean(int depth, boolean v) throws HttpStatusException {
    if (count > 0 && !booleans) {
      throw new HttpStatusException(400, "a tensor mixes booleans with numbers");
    }
    booleans = true;
    leaf(depth);
    if (count == numbers.length) {
      numbers = Arrays.copyOf(numbers, Math.max(64, numbers.length * 2));
    }
    numbers[count++] = v ? 1 : 0;
  }

  void addString(int depth, byte[] v) throws HttpStatusException {
    leaf(depth);
    if (count > 0) {
      throw new HttpStatusException(400, "a tensor mixes strings with numbers");
    }
    if (strings == null) {
      strings = new ArrayList<>();
    }
    strings.add(v);
  }
}
