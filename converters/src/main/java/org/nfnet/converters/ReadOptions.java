package org.nfnet.converters;

/**
 * How {@link WeightFileReader} reads a file.
 *
 * @param verifyReleaseChecksum compare the md5 of files named {@code F<n>_haiku.npz} with the
 *     released files' md5 (reads the whole file once more; on by default)
 */
public record ReadOptions(boolean verifyReleaseChecksum) {
  public static ReadOptions defaults() {
    return new ReadOptions(true);
  }

  public ReadOptions withoutChecksum() {
    return new ReadOptions(false);
  }
}
