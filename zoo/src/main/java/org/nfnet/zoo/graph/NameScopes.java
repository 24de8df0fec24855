package org.nfnet.zoo.graph;

import java.util.HashMap;
import java.util.Map;
import org.tensorflow.op.Ops;

/**
 * TF name scopes for slash-separated paths, each created once and reused. TF Java uniquifies a
 * sub-scope created twice ({@code conv1} then {@code conv1_1}), so variables that must carry an
 * exact name (parameters, optimizer slots, EMA shadows) take their scope from one shared tree.
 */
public final class NameScopes {
  private final Ops root;
  private final Map<String, Ops> cache = new HashMap<>();

  public NameScopes(Ops root) {
    this.root = root;
  }

  /** Ops whose op names start with {@code path + "/"}. */
  public Ops of(String path) {
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
  public Ops named(String fullName) {
    int cut = fullName.lastIndexOf('/');
    Ops parent = cut < 0 ? root : of(fullName.substring(0, cut));
    return parent.withName(fullName.substring(cut + 1));
  }
}
