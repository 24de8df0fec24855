package org.nfnet.cli;

import java.nio.file.Path;
import java.util.List;
import org.nfnet.training.Checkpoints;

/**
 * Where a {@code --resume} starts: the newest intact checkpoint of the run (a truncated or partly
 * deleted newer one is skipped, and said so), its step, and the new total. {@code --steps} /
 * {@code --epochs} on resume give the run's new total length, which must lie beyond the step
 * reached; without them the saved length applies.
 *
 * @param skipped checkpoints passed over, each with the reason
 */
record ResumePlan(Path run, Path checkpoint, long step, long target, List<String> skipped) {

  /** @throws UserException with no checkpoint to resume from, or a target not beyond it */
  static ResumePlan of(Path run, long target, boolean targetGiven) {
    Checkpoints.Selection sel = new Checkpoints(run.resolve("checkpoints"), 1).newestIntact();
    if (sel.checkpoint().isEmpty()) {
      throw new UserException("--resume " + run + ": no intact checkpoint in "
          + run.resolve("checkpoints") + (sel.skipped().isEmpty() ? ""
          : " (" + String.join("; ", sel.skipped()) + ")")
          + "; nothing to resume (a new run needs another --out)");
    }
    Path ckpt = sel.checkpoint().get();
    long step = Checkpoints.meta(ckpt).step();
    if (target <= step) {
      throw new UserException("--resume " + run + " is at step " + step + " (" + ckpt.getFileName()
          + "): " + (targetGiven ? "--steps/--epochs give the run's new total, which must exceed "
          + step : "the run's " + target + " steps are done; give a larger total with --steps"));
    }
    return new ResumePlan(run, ckpt, step, target, sel.skipped());
  }

  /** The one line a resume prints. */
  String line() {
    return "resumed " + run + " from checkpoint " + checkpoint.getFileName() + " at step " + step
        + " (of " + target + ")";
  }
}
