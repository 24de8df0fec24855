package org.nfnet.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's resident memory from /proc (Linux): current and peak (VmHWM). */
public final class Memory {
  private Memory() {}

  public static long peakRssBytes() {
    return field("VmHWM:");
  }

  private static long notedPeak;

  /** Remembers the current VmHWM before something resets it (see {@link #lifetimePeakBytes}). */
  static synchronized void notePeak() {
    notedPeak = Math.max(notedPeak, peakRssBytes());
  }

  /** The process's peak RSS over its life, including peaks from before VmHWM resets. */
  static synchronized long lifetimePeakBytes() {
    return Math.max(notedPeak, peakRssBytes());
  }

  public static long rssBytes() {
    return field("VmRSS:");
  }

  private static long field(String name) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(name)) {
          return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }
}
