package org.nfnet.cli;

import java.io.PrintStream;
import java.net.URI;
import java.time.Duration;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.nfnet.converters.download.DownloadListener;

/** Renders a download's progress with the progressbar library (MB, speed, ETA) on stderr. */
final class DownloadProgressBar implements DownloadListener {
  private final PrintStream err;
  private ProgressBar bar;

  DownloadProgressBar(PrintStream err) {
    this.err = err;
  }

  @Override
  public void started(URI uri, long offset, long total) {
    close();
    err.println("downloading " + uri);
    String file = uri.getPath().substring(uri.getPath().lastIndexOf('/') + 1);
    ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(file).setInitialMax(total > 0 ? total : -1)
        .setUnit("MB", 1_000_000).showSpeed().setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(500).setMaxRenderedLength(120)
        // a resumed download's speed and ETA count only the bytes of this transfer
        .startsFrom(offset, Duration.ZERO);
    if (System.console() == null || err != System.err) {
      // not a terminal (a log, a test): plain lines on our stream instead of the library's
      // direct-to-stderr interactive rendering
      b.setConsumer(new ConsoleProgressBarConsumer(err, 120));
    }
    bar = b.build();
  }

  @Override
  public void progress(long bytes, long total) {
    if (bar != null) {
      bar.stepTo(bytes);
    }
  }

  @Override
  public void stopped(long bytes) {
    progress(bytes, -1);
    close();
  }

  @Override
  public void note(String message) {
    err.println(message);
  }

  private void close() {
    if (bar != null) {
      bar.close();
      bar = null;
    }
  }
}
