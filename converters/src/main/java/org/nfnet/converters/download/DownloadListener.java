package org.nfnet.converters.download;

import java.net.URI;

/**
 * Progress of a download, for a caller that wants to show it (the CLI draws a progress bar). All
 * methods are called on the thread that runs the download; the library itself prints nothing.
 */
public interface DownloadListener {
  /** Does nothing. */
  DownloadListener NONE = new DownloadListener() {};

  /**
   * A transfer starts (again after a fallback to a full download).
   *
   * @param offset bytes already on disk that the transfer continues from (0 for a full download)
   * @param total the file size if the server sent it, else -1
   */
  default void started(URI uri, long offset, long total) {}

  /** Bytes of the file on disk so far (including a resumed prefix); called a few times a second. */
  default void progress(long bytes, long total) {}

  /** The transfer ended (successfully or not); {@code bytes} is what is on disk. */
  default void stopped(long bytes) {}

  /** A one-line remark worth showing a user ("resuming at 120 MB", "server ignored Range"). */
  default void note(String message) {}
}
