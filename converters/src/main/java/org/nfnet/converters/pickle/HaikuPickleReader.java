package org.nfnet.converters.pickle;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;
import org.nfnet.converters.DType;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.ParamArrayFactory;
import org.nfnet.converters.WeightFileException;
import org.nfnet.converters.WeightFileReader;
import org.nfnet.converters.WeightFormat;
import org.nfnet.converters.pickle.PyValues.PyArray;
import org.nfnet.converters.pickle.PyValues.PyDict;

/**
 * Reads a Haiku parameter pickle (DeepMind's {@code F<n>_haiku.npz} release files) into
 * {@link HaikuParams}: runs {@link StrictUnpickler}, then walks the two-level tree
 * {@code module -> {param -> ndarray}}. A flat {@code {"module/param": ndarray}} dict is accepted
 * too. Prefer {@link WeightFileReader#read}, which detects the format.
 */
public final class HaikuPickleReader {
  private HaikuPickleReader() {}

  /** Reads the pickle at {@code file}; the channel is owned by the result (closed with it). */
  public static HaikuParams read(Path file, FileChannel channel) throws IOException {
    StrictUnpickler u = new StrictUnpickler(channel, file);
    Object top = u.load();
    if (!(top instanceof PyDict root)) {
      throw new WeightFileException(file, "the pickle holds a " + PyValues.typeName(top)
          + ", not a mapping of Haiku modules to parameters");
    }
    ParamArrayFactory factory = new ParamArrayFactory(file);
    for (Map.Entry<String, Object> e : root.map.entrySet()) {
      String key = e.getKey();
      Object v = e.getValue();
      if (v instanceof PyDict module) {
        for (Map.Entry<String, Object> p : module.map.entrySet()) {
          if (!(p.getValue() instanceof PyArray arr)) {
            throw new WeightFileException(file, "entry '" + key + "/" + p.getKey() + "' is a "
                + PyValues.typeName(p.getValue()) + ", not a numpy array");
          }
          add(factory, file, key, p.getKey(), arr);
        }
      } else if (v instanceof PyArray arr) {
        int cut = key.lastIndexOf('/');
        add(factory, file, cut < 0 ? "" : key.substring(0, cut), key.substring(cut + 1), arr);
      } else {
        throw new WeightFileException(file, "module '" + key + "' is a " + PyValues.typeName(v)
            + ", not a mapping of parameter names to arrays");
      }
    }
    return factory.toParams(WeightFormat.PICKLE, u.protocol(), u.globalCounts(), root.type, channel,
        u.layout().describe());
  }

  private static void add(ParamArrayFactory f, Path file, String module, String name, PyArray arr) {
    if (!arr.built) {
      throw new WeightFileException(file, arr.offset, "array '" + module + "/" + name
          + "' was created but its state (shape, dtype, data) was never set");
    }
    ByteOrder order = DType.orderOf(arr.dtype.order, null);
    f.add(module, name, arr.shape, arr.dtype.code, order, arr.fortran, arr.data, arr.offset);
  }
}
