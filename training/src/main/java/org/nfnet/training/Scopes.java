package org.nfnet.training;

import java.util.HashMap;
import java.util.Map;
import org.tensorflow.op.Ops;

/**
 * Name scopes for slash-separated paths, created once and reused, so a slot for parameter
 * {@code NFNet/nf_block_3/conv1/w} is the variable {@code optimizer/momentum/NFNet/nf_block_3/conv1/w}
 * (TF would uniquify a scope created twice).
 */
final class Scopes {
  private final Ops root;
  private final Map<String, Ops> cache = new HashMap<>();

  Scopes(Ops root) {
    this.root = root;
  }

  Ops of(String path) {
    Ops s = cache.get(path);
    if (s != null) {
      return s;
    }
    int cut = path.lastIndexOf('/');
    Ops parent = cut < 0 ? root : of(path.substring(0, cut));
    s = parent.withSubScope(cut < 0 ? path : path.substring(cut + 1));
    cache.put(path, s);
    return s;
  }

  /** Ops whose next op is named exactly {@code fullName} (parent scope + leaf name). */
  Ops named(String fullName) {
    int cut = fullName.lastIndexOf('/');
    Ops parent = cut < 0 ? root : of(fullName.substring(0, cut));
    return parent.withName(fullName.substring(cut + 1));
  }
}
