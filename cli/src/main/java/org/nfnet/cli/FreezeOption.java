package org.nfnet.cli;

import picocli.CommandLine.Option;

/** {@code --freeze}, for the commands that load an export to run it: logits, predict, serve. */
final class FreezeOption {
  @Option(names = "--freeze",
      description = "Turn a variables export's weights into graph constants at load. Beside"
          + " oneDNN's weight cache, which the nfnet launcher turns on for this command, it gains"
          + " ~0-3%% at batch 1 (F0, float32 and bf16), for ~5x the resident memory"
          + " (F0: ~4.3 GB instead of ~1.0 GB on tcmalloc, ~5.0 GB on glibc) and a first call"
          + " of 5-12 s.")
  boolean freeze;
}
