package org.nfnet.zoo.graph;

import org.nfnet.zoo.ParameterNames;
import org.tensorflow.op.Ops;

/**
 * One TF name scope per Haiku module, so that a parameter {@code NFNet/~/nf_block_3/~/conv1} +
 * {@code w} becomes the variable {@code NFNet/nf_block_3/conv1/w} (see {@link ParameterNames}) and
 * the module's ops sit beside it in TensorBoard.
 */
final class ModuleScopes {
  private final NameScopes scopes;

  ModuleScopes(Ops root) {
    this.scopes = new NameScopes(root);
  }

  /** Ops whose names are prefixed by the TF form of {@code haikuModule}. */
  Ops of(String haikuModule) {
    return scopes.of(haikuModule.replace(ParameterNames.HAIKU_SEPARATOR, "/"));
  }
}
