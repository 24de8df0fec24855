package org.nfnet.training.distributed;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A distributed step failed because of the cluster (a peer died, is unreachable or too slow), as
 * opposed to a bug in the graph. Built by {@link #classify} from TF's exception.
 *
 * <p>After such a failure TF has aborted this process's collective executor ("Collective ops is
 * aborted by ..."): every later collective fails too, so the trainer must exit (non-zero) and be
 * restarted together with its peers from the last checkpoint.
 */
public final class PeerFailureException extends RuntimeException {

  /** What went wrong. */
  public enum Kind {
    /** A peer's connection broke or it could not be reached (process killed, host down). */
    PEER_UNREACHABLE,
    /** A collective or the step exceeded its timeout (peer stuck, dead without a reset, slow). */
    TIMEOUT
  }

  private static final Pattern REMOTE_TASK =
      Pattern.compile("remote target /job:[a-z_]+/replica:\\d+/task:(\\d+)");

  private final Kind kind;
  private final Integer peerTask;

  private PeerFailureException(String message, Kind kind, Integer peerTask, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.peerTask = peerTask;
  }

  public Kind kind() {
    return kind;
  }

  /** The peer TF blamed, when it named one. */
  public Optional<Integer> peerTask() {
    return Optional.ofNullable(peerTask);
  }

  /**
   * Wraps {@code e} in a {@code PeerFailureException} with a one-line explanation if it is a
   * cluster failure; otherwise returns {@code e} unchanged.
   */
  public static RuntimeException classify(ClusterSpec cluster, RuntimeException e) {
    String msg = String.valueOf(e.getMessage());
    Matcher m = REMOTE_TASK.matcher(msg);
    Integer peer = m.find() ? Integer.valueOf(m.group(1)) : null;
    String where = "task " + cluster.taskIndex() + " of " + cluster.numTasks();
    String peerText =
        peer == null ? "" : " peer task " + peer + " (" + cluster.workers().get(peer) + ")";
    if (msg.contains("timed out") || msg.contains("DEADLINE_EXCEEDED")
        || msg.contains("Timed out") || msg.contains("deadline")) {
      return new PeerFailureException(
          "distributed step on " + where + " timed out waiting for" 
              + (peerText.isEmpty() ? " peers " + cluster.workers() : peerText)
              + " (a peer died, hangs or is slower than the collective timeout): " + firstLine(msg),
          Kind.TIMEOUT, peer, e);
    }
    if (peer != null
        || msg.contains("Connection reset")
        || msg.contains("Connection refused")
        || msg.contains("Socket closed")
        || msg.contains("UNAVAILABLE")
        || msg.contains("failed to connect")
        || msg.contains("Collective ops is aborted")) {
      return new PeerFailureException(
          "distributed step on " + where + " lost" + (peerText.isEmpty() ? " a peer" : peerText)
              + ": " + firstLine(msg),
          Kind.PEER_UNREACHABLE, peer, e);
    }
    return e;
  }

  private static String firstLine(String s) {
    // Skip TF's "From /job:worker/replica:0/task:0:" location prefix lines.
    String line = s;
    for (String l : s.split("\n")) {
      String t = l.trim();
      if (!t.isEmpty() && !(t.startsWith("From /job:") && t.endsWith(":"))) {
        line = t;
        break;
      }
    }
    return line.length() > 300 ? line.substring(0, 300) + "..." : line;
  }
}
