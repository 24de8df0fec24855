package org.nfnet.converters.download;

import java.util.Locale;
import java.util.Objects;
import org.nfnet.zoo.NFNetConfig;

/**
 * One downloadable weight file: the name users pull it by ({@code F0}), its file name on the
 * server ({@code F0_haiku.npz}), its md5 and the variant it converts to.
 *
 * @param md5 lower-case hex md5 of the whole file
 */
public record Release(String name, String fileName, String md5, NFNetConfig variant) {
  public Release {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(variant, "variant");
    if (fileName == null || fileName.isEmpty() || fileName.contains("/") || fileName.contains("\\")
        || fileName.startsWith(".")) {
      throw new IllegalArgumentException("release " + name + ": file name must be a plain file name, got '"
          + fileName + "'");
    }
    if (md5 == null || !md5.matches("[0-9a-fA-F]{32}")) {
      throw new IllegalArgumentException("release " + name + ": md5 must be 32 hex digits, got '" + md5 + "'");
    }
    md5 = md5.toLowerCase(Locale.ROOT);
  }
}
