package org.nfnet.cli.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Training-step throughput; filled in once the trainer's API settles. */
final class TrainingBench {
  private TrainingBench() {}

  static ObjectNode run(BenchSections.Settings s) {
    ObjectNode r = BenchSections.JSON.createObjectNode();
    r.put("summary", "training section not implemented yet");
    return r;
  }
}
