package org.nfnet.tests;

import org.nfnet.cli.bench.NativeAllocator;

/**
 * Child JVM of {@link TcmallocProcessTest}: prints this process's allocator line, then does what
 * {@link WeightCacheChild} does with the same arguments.
 */
public final class AllocatorChild {
  private AllocatorChild() {}

  public static void main(String[] args) throws Exception {
    System.out.println("allocator: " + NativeAllocator.describe());
    WeightCacheChild.main(args);
  }
}
