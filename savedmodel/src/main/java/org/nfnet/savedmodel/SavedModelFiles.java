package org.nfnet.savedmodel;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;

/**
 * Checks an export directory before TensorFlow loads it, so that a missing or corrupt file is
 * reported by name (TF's own loader says e.g. "Read less bytes than requested" without a file).
 */
final class SavedModelFiles {
  private SavedModelFiles() {}

  /** Parses {@code saved_model.pb} and returns its meta graph tagged {@code serve}. */
  static MetaGraphDef check(Path dir) throws IOException {
    Path pb = dir.resolve("saved_model.pb");
    if (!Files.isDirectory(dir)) {
      throw new IOException("not a directory: " + dir);
    }
    if (!Files.isRegularFile(pb)) {
      throw new IOException("not a SavedModel directory (no saved_model.pb): " + dir);
    }
    SavedModel sm;
    try (InputStream in = Files.newInputStream(pb)) {
      sm = SavedModel.parseFrom(in);
    } catch (InvalidProtocolBufferException e) {
      throw new IOException("corrupt or truncated " + pb + ": " + e.getMessage(), e);
    }
    MetaGraphDef serve = null;
    for (MetaGraphDef m : sm.getMetaGraphsList()) {
      if (m.getMetaInfoDef().getTagsList().contains(NFNetExporter.TAG)) {
        serve = m;
      }
    }
    if (serve == null) {
      throw new IOException(pb + " has no meta graph tagged '" + NFNetExporter.TAG + "'");
    }
    return serve;
  }

  static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
