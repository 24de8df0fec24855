package org.nfnet.cli.bench;

import org.tensorflow.proto.ConfigProto;

/** Session configs the benchmarks (and users) may pick. */
public final class SessionConfigs {
  private SessionConfigs() {}

  /**
   * {@code intra} threads per op (0 = TF's default of one per core) and one op at a time: on a
   * 2-core machine two concurrent ops would each want both cores.
   */
  public static ConfigProto threads(int intra) {
    return ConfigProto.newBuilder()
        .setIntraOpParallelismThreads(intra)
        .setInterOpParallelismThreads(1)
        .build();
  }
}
