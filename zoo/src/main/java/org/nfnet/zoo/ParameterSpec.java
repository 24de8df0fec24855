package org.nfnet.zoo;

import java.util.Arrays;

/**
 * One parameter of an NFNet, identified exactly as Haiku names it: a module path such as
 * {@code NFNet/~/nf_block_3/~/conv1} and a parameter name such as {@code w}.
 *
 * <p>See {@link ParameterNames} for how that identity maps onto TensorFlow variable names.
 *
 * @param module the Haiku module path
 * @param name the parameter name inside the module ({@code w}, {@code b}, {@code gain},
 *     {@code bias}, {@code skip_gain})
 * @param shape the shape (HWIO for convolution kernels, [in, out] for linear weights, [] for
 *     scalars)
 */
public record ParameterSpec(String module, String name, long[] shape) {

  public ParameterSpec {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  /** Number of scalar elements. */
  public long size() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** The Haiku key {@code module/name}, as used in flattened parameter dictionaries. */
  public String haikuKey() {
    return ParameterNames.haikuKey(module, name);
  }

  /** The TensorFlow variable (op) name this parameter lives under. */
  public String tfName() {
    return ParameterNames.tfName(module, name);
  }

  public String shapeString() {
    return Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ParameterSpec p
        && module.equals(p.module)
        && name.equals(p.name)
        && Arrays.equals(shape, p.shape);
  }

  @Override
  public int hashCode() {
    return (module.hashCode() * 31 + name.hashCode()) * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return haikuKey() + shapeString();
  }
}
