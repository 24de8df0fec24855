package org.nfnet.converters.npz;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.ParamArrayFactory;
import org.nfnet.converters.WeightFileException;
import org.nfnet.converters.WeightFormat;
import org.nfnet.converters.payload.FileRegionPayload;
import org.nfnet.converters.payload.Payload;

/**
 * Reads a real numpy {@code .npz} (zip of {@code .npy} entries named {@code module/param.npy})
 * into {@link HaikuParams}. Stored entries become file regions copied positionally; deflated
 * entries ({@code np.savez_compressed}) are inflated on each copy, straight into the destination.
 * Every copy checks the entry's CRC-32 and size against the central directory.
 */
public final class NpzReader {
  private NpzReader() {}

  /** Reads the archive's directory and .npy headers; the channel is owned by the result. */
  public static HaikuParams read(Path file, FileChannel ch) throws IOException {
    ParamArrayFactory factory = new ParamArrayFactory(file);
    int version = -1;
    Map<Integer, Integer> methods = new TreeMap<>();
    for (ZipDirectory.Entry e : ZipDirectory.read(ch, file)) {
      if (e.name().endsWith("/")) {
        continue; // directory entries carry no data
      }
      String key = e.name().endsWith(".npy") ? e.name().substring(0, e.name().length() - 4) : e.name();
      String what = "entry '" + e.name() + "'";
      NpyHeader h;
      Payload payload;
      try {
        if (e.method() == 0) {
          if (e.compressedSize() != e.size()) {
            throw new IllegalArgumentException("is stored but its sizes differ");
          }
          int peek = (int) Math.min(e.size(), NpyHeader.MAX_HEADER + 12);
          ByteBuffer start = ZipDirectory.readAt(ch, file, e.dataOffset(), peek);
          h = NpyHeader.parse(start.duplicate());
          byte[] header = new byte[h.headerLength()];
          start.get(0, header);
          payload = new StoredEntryPayload(new FileRegionPayload(ch, e.dataOffset() + h.headerLength(),
              e.size() - h.headerLength()), header, e.crc(), file, e.name());
        } else if (e.method() == 8) {
          int peek = (int) Math.min(e.size(), NpyHeader.MAX_HEADER + 12);
          ByteBuffer start = ByteBuffer.allocate(Math.max(peek, 0));
          try {
            DeflatedEntryPayload.inflate(ch, e.dataOffset(), e.compressedSize(), 0, peek, start::put);
          } catch (IOException ex) {
            throw new IllegalArgumentException("cannot be inflated: " + ex.getMessage());
          }
          start.flip();
          h = NpyHeader.parse(start);
          payload = new DeflatedEntryPayload(ch, e.dataOffset(), e.compressedSize(), h.headerLength(),
              e.size() - h.headerLength(), new DeflatedEntryPayload.Check(e.crc(), file, e.name()));
        } else {
          throw new IllegalArgumentException("uses zip compression method " + e.method()
              + " (only stored and deflated are supported)");
        }
      } catch (IllegalArgumentException ex) {
        throw new WeightFileException(file, e.dataOffset(), what + ": " + ex.getMessage());
      }
      methods.merge(e.method(), 1, Integer::sum);
      if (version < 0) {
        version = h.majorVersion();
      }
      int cut = key.lastIndexOf('/');
      factory.add(cut < 0 ? "" : key.substring(0, cut), key.substring(cut + 1), h.shape(), h.descr(),
          null, h.fortranOrder(), payload, e.dataOffset());
    }
    String type = "numpy .npz (" + (methods.containsKey(8) ? "deflated" : "stored") + " entries)";
    return factory.toParams(WeightFormat.NPZ, version, Map.of(), type, ch, type);
  }
}
