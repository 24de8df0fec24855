package org.nfnet.savedmodel;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.tensorflow.proto.SavedModel;

/**
 * Names the file when an export cannot be loaded: TF's own loader says e.g. "Read less bytes
 * than requested" without one. The proto is parsed only after TF failed, so that a healthy frozen
 * export (a GraphDef as large as its weights) is never read twice.
 */
final class SavedModelFiles {
  private SavedModelFiles() {}

  /** Fails when {@code dir} is not a directory holding {@code saved_model.pb}. */
  static void checkExists(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException("not a directory: " + dir);
    }
    if (!Files.isRegularFile(dir.resolve("saved_model.pb"))) {
      throw new IOException("not a SavedModel directory (no saved_model.pb): " + dir);
    }
  }

  /** An IOException naming the file TensorFlow could not load ({@code saved_model.pb} or the variables). */
  static IOException diagnose(Path dir, Exception tfError) {
    Path pb = dir.resolve("saved_model.pb");
    String tf = firstLine(tfError.getMessage());
    try (InputStream in = Files.newInputStream(pb)) {
      SavedModel sm = SavedModel.parseFrom(in);
      boolean serve = sm.getMetaGraphsList().stream()
          .anyMatch(m -> m.getMetaInfoDef().getTagsList().contains(NFNetExporter.TAG));
      if (!serve) {
        return new IOException(pb + " has no meta graph tagged '" + NFNetExporter.TAG + "': " + tf, tfError);
      }
    } catch (InvalidProtocolBufferException e) {
      return new IOException("corrupt or truncated " + pb + ": " + e.getMessage(), tfError);
    } catch (IOException e) {
      return new IOException("cannot read " + pb + ": " + e.getMessage(), tfError);
    }
    return new IOException("cannot load the variables of the SavedModel in " + dir + " ("
        + dir.resolve("variables") + " is corrupt or truncated): " + tf, tfError);
  }

  static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
