package org.nfnet.converters;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The parameters read from one weight file, in file order, keyed by Haiku key
 * ({@code module/name}), plus what {@code inspect} shows about the file.
 *
 * <p>Holds the file open so that {@link ParamArray#copyAsFloat32} can read lazily; close it when
 * done (try-with-resources).
 */
public final class HaikuParams implements Closeable {
  private final Path file;
  private final WeightFormat format;
  private final int protocol;
  private final Map<String, Integer> globals;
  private final String topLevelType;
  private final Map<String, ParamArray> params;
  private final List<String> warnings;
  private final FileChannel channel;
  private final String layout;

  HaikuParams(Path file, WeightFormat format, int protocol, Map<String, Integer> globals,
      String topLevelType, Map<String, ParamArray> params, List<String> warnings, FileChannel channel,
      String layout) {
    this.file = file;
    this.layout = layout;
    this.format = format;
    this.protocol = protocol;
    this.globals = Collections.unmodifiableMap(new LinkedHashMap<>(globals));
    this.topLevelType = topLevelType;
    this.params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
    this.warnings = List.copyOf(warnings);
    this.channel = channel;
  }

  public Path file() {
    return file;
  }

  public WeightFormat format() {
    return format;
  }

  /** Pickle protocol (2..5), or the .npy format major version of the first entry for .npz files. */
  public int protocol() {
    return protocol;
  }

  /**
   * Python globals the pickle uses ({@code module.name} -> number of uses: GLOBAL opcodes plus memo
   * recalls of them); empty for .npz files.
   */
  public Map<String, Integer> globals() {
    return globals;
  }

  /**
   * The byte layout the file was written in, e.g. DeepMind's "dill 0.3.x / numpy {@literal <=} 1.18 release
   * layout" or the standard pickler's "plain layout"; for .npz files, the zip entry kind.
   */
  public String layout() {
    return layout;
  }

  /** Type of the top-level object, e.g. {@code haiku._src.data_structures.FlatMapping}. */
  public String topLevelType() {
    return topLevelType;
  }

  /** All arrays in file order, keyed by {@link ParamArray#haikuKey()}. */
  public Map<String, ParamArray> byKey() {
    return params;
  }

  public List<ParamArray> arrays() {
    return new ArrayList<>(params.values());
  }

  /** The array for a Haiku key, or null. */
  public ParamArray get(String haikuKey) {
    return params.get(haikuKey);
  }

  /** Distinct module names, in file order. */
  public Set<String> modules() {
    Set<String> m = new LinkedHashSet<>();
    params.values().forEach(p -> m.add(p.module()));
    return m;
  }

  public int moduleCount() {
    return modules().size();
  }

  public int arrayCount() {
    return params.size();
  }

  public long totalElements() {
    return params.values().stream().mapToLong(ParamArray::elementCount).sum();
  }

  /** Notes about the reading, e.g. dtype conversions; never problems that make the data wrong. */
  public List<String> warnings() {
    return warnings;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
