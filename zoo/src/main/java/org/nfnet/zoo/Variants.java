package org.nfnet.zoo;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The named NFNet variants of DeepMind's {@code base.py}: F0..F7, and the wider F0+..F7+.
 *
 * <p>All F-variants share widths [256, 512, 1536, 1536]; Fn has (n + 1) times F0's depths
 * [1, 2, 6, 3]. The "+" variants use widths [384, 768, 2048, 2048] and are otherwise identical.
 */
public final class Variants {
  private static final int[] WIDTH = {256, 512, 1536, 1536};
  private static final int[] WIDTH_PLUS = {384, 768, 2048, 2048};
  private static final int[][] IMSIZE = {
    {192, 256}, {224, 320}, {256, 352}, {320, 416}, {384, 512}, {416, 544}, {448, 576}, {480, 608}
  };
  private static final String[] RA_LEVEL = {"405", "410", "410", "415", "415", "415", "415", "415"};
  private static final double[] DROP_RATE = {0.2, 0.3, 0.4, 0.4, 0.5, 0.5, 0.5, 0.5};

  private static final Map<String, NFNetConfig> VARIANTS = build();

  private Variants() {}

  private static Map<String, NFNetConfig> build() {
    Map<String, NFNetConfig> m = new LinkedHashMap<>();
    for (boolean plus : new boolean[] {false, true}) {
      for (int n = 0; n < IMSIZE.length; n++) {
        String name = "F" + n + (plus ? "+" : "");
        m.put(name, NFNetConfig.builder(name)
            .width(plus ? WIDTH_PLUS : WIDTH)
            .depth(n + 1, 2 * (n + 1), 6 * (n + 1), 3 * (n + 1))
            .trainImsize(IMSIZE[n][0])
            .testImsize(IMSIZE[n][1])
            .raLevel(RA_LEVEL[n])
            .dropRate(DROP_RATE[n])
            .build());
      }
    }
    return Collections.unmodifiableMap(m);
  }

  /** Names of all named variants, in order F0..F7, F0+..F7+. */
  public static List<String> names() {
    return new ArrayList<>(VARIANTS.keySet());
  }

  /** A named variant (case-insensitive); unknown names fail with the list of valid ones. */
  public static NFNetConfig get(String name) {
    NFNetConfig c = VARIANTS.get(name.trim().toUpperCase(Locale.ROOT));
    if (c == null) {
      throw new IllegalArgumentException(
          "unknown NFNet variant '" + name + "'; valid: " + String.join(", ", VARIANTS.keySet())
              + " (or a path to a variant .json file)");
    }
    return c;
  }

  public static Map<String, NFNetConfig> all() {
    return VARIANTS;
  }
}
