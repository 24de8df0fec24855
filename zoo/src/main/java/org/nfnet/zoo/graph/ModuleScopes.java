package org.nfnet.zoo.graph;

import java.util.HashMap;
import java.util.Map;
import org.nfnet.zoo.ParameterNames;
import org.tensorflow.op.Ops;

/**
 * One TF name scope per Haiku module, created once and reused, so that a parameter
 * {@code NFNet/~/nf_block_3/~/conv1} + {@code w} becomes the variable {@code NFNet/nf_block_3/conv1/w}
 * (see {@link ParameterNames}) and the module's ops sit beside it in TensorBoard.
 */
final class ModuleScopes {
  private final Ops root;
  private final Map<String, Ops> scopes = new HashMap<>();

  ModuleScopes(Ops root) {
    this.root = root;
  }

  /** Ops whose names are prefixed by the TF form of {@code haikuModule}. */
  Ops of(String haikuModule) {
    Ops s = scopes.get(haikuModule);
    if (s != null) {
      return s;
    }
    int cut = haikuModule.lastIndexOf(ParameterNames.HAIKU_SEPARATOR);
    Ops parent = cut < 0 ? root : of(haikuModule.substring(0, cut));
    String leaf = cut < 0 ? haikuModule
        : haikuModule.substring(cut + ParameterNames.HAIKU_SEPARATOR.length());
    s = parent.withSubScope(leaf);
    scopes.put(haikuModule, s);
    return s;
  }
}
