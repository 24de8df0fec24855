package org.nfnet.zoo;

/**
 * The one place that defines how a Haiku parameter identity maps onto a TensorFlow graph.
 *
 * <p>Haiku names a parameter by a module path whose nesting levels are joined by {@code "/~/"}
 * (e.g. {@code NFNet/~/nf_block_3/~/conv1}) plus a parameter name ({@code w}). TensorFlow op names
 * may not contain {@code '~'}, so the graph variable for that parameter is named
 * {@code NFNet/nf_block_3/conv1/w}: every {@code "/~/"} becomes {@code "/"}, then {@code "/"} and
 * the parameter name are appended. Haiku module names never contain {@code '/'} themselves, so the
 * mapping is reversible: {@link #haikuModuleOf(String)} and {@link #paramOf(String)} undo it.
 *
 * <p>The converter (weights in), the optimizer (parameter groups) and the SavedModel export
 * (checkpoint keys) all go through this class; nothing else should build such names by hand.
 */
public final class ParameterNames {
  /** Haiku's separator between nested module names. */
  public static final String HAIKU_SEPARATOR = "/~/";
  /** Root module name of every NFNet parameter. */
  public static final String ROOT = "NFNet";

  private ParameterNames() {}

  /** {@code NFNet/~/nf_block_3/~/conv1} + {@code w} -> {@code NFNet/nf_block_3/conv1/w}. */
  public static String tfName(String haikuModule, String param) {
    return haikuModule.replace(HAIKU_SEPARATOR, "/") + "/" + param;
  }

  /** {@code NFNet/~/nf_block_3/~/conv1} + {@code w} -> {@code NFNet/~/nf_block_3/~/conv1/w}. */
  public static String haikuKey(String haikuModule, String param) {
    return haikuModule + "/" + param;
  }

  /** {@code NFNet/nf_block_3/conv1/w} -> {@code NFNet/~/nf_block_3/~/conv1}. */
  public static String haikuModuleOf(String tfName) {
    int cut = tfName.lastIndexOf('/');
    if (cut <= 0) {
      throw new IllegalArgumentException("not a parameter variable name: '" + tfName + "'");
    }
    return tfName.substring(0, cut).replace("/", HAIKU_SEPARATOR);
  }

  /** {@code NFNet/nf_block_3/conv1/w} -> {@code w}. */
  public static String paramOf(String tfName) {
    return tfName.substring(tfName.lastIndexOf('/') + 1);
  }

  /** Child module path: {@code module(NFNet, "nf_block")} -> {@code NFNet/~/nf_block}. */
  public static String module(String parent, String child) {
    return parent + HAIKU_SEPARATOR + child;
  }

  /** Haiku's auto-numbered module names: nf_block, nf_block_1, nf_block_2, ... */
  public static String numbered(String base, int index) {
    return index == 0 ? base : base + "_" + index;
  }
}
