package org.nfnet.cli.bench;

import java.util.Arrays;

/** Median and spread of repeated timings. */
public record Stats(double median, double min, double max, int n) {
  public static Stats of(double[] samples) {
    double[] s = samples.clone();
    Arrays.sort(s);
    double med = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    return new Stats(med, s[0], s[s.length - 1], s.length);
  }

  /** Spread as +- percent of the median, from the extremes. */
  public double spreadPercent() {
    return 100 * Math.max(max - median, median - min) / median;
  }
}
