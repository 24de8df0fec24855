package org.nfnet.converters.download;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * Receives a response body from the HTTP client and appends it to the partial file, updating the
 * md5 on the way; one buffer list is requested at a time, so memory stays at the client's buffers.
 * Runs on the client's threads: the downloader only reads {@link #position()} and waits on
 * {@link #done()}.
 */
final class PartFileSink implements Flow.Subscriber<List<ByteBuffer>> {
  /** A local failure (disk, size cap), as opposed to a network one. */
  static final class SinkException extends RuntimeException {
    SinkException(IOException cause) {
      super(cause);
    }

    IOException io() {
      return (IOException) getCause();
    }
  }

  private final FileChannel ch;
  private final MessageDigest md;
  private final long maxBytes;
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private volatile long position;
  private volatile Flow.Subscription subscription;

  PartFileSink(FileChannel ch, long start, MessageDigest md, long maxBytes) {
    this.ch = ch;
    this.position = start;
    this.md = md;
    this.maxBytes = maxBytes;
  }

  CompletableFuture<Void> done() {
    return done;
  }

  long position() {
    return position;
  }

  void cancel() {
    Flow.Subscription s = subscription;
    if (s != null) {
      s.cancel();
    }
    done.cancel(false);
  }

  @Override
  public void onSubscribe(Flow.Subscription s) {
    subscription = s;
    if (done.isDone()) {
      s.cancel();
    } else {
      s.request(1);
    }
  }

  @Override
  public void onNext(List<ByteBuffer> buffers) {
    if (done.isDone()) {
      return;
    }
    try {
      long pos = position;
      for (ByteBuffer b : buffers) {
        if (pos + b.remaining() > maxBytes) {
          throw new IOException("the download exceeds the limit of " + maxBytes + " bytes; refusing the rest");
        }
        md.update(b.duplicate());
        while (b.hasRemaining()) {
          pos += ch.write(b, pos);
        }
      }
      position = pos;
      subscription.request(1);
    } catch (IOException e) {
      subscription.cancel();
      done.completeExceptionally(new SinkException(e));
    }
  }

  @Override
  public void onError(Throwable t) {
    done.completeExceptionally(t);
  }

  @Override
  public void onComplete() {
    done.complete(null);
  }
}
