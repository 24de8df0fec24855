package org.nfnet.converters;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What {@code nfnet inspect FILE} prints. When the file is refused, {@link #refusal()} says why
 * and the structural fields are empty.
 *
 * @param refusal null when the file was read, else the reason it was refused
 * @param layout the byte layout seen, e.g. "dill 0.3.x / numpy {@literal <=} 1.18 release layout"
 * @param variant detected named variant, or null ({@link #variantNote()} says why)
 * @param numClasses classifier outputs, or -1 if unknown
 * @param firstParams the first few arrays as {@code key [shape] dtype}
 */
public record InspectionReport(
    Path file,
    String refusal,
    WeightFormat format,
    int protocol,
    String layout,
    Map<String, Integer> globals,
    String topLevelType,
    int moduleCount,
    int arrayCount,
    long totalElements,
    String variant,
    int numClasses,
    String variantNote,
    List<String> firstParams,
    List<String> warnings) {

  public boolean refused() {
    return refusal != null;
  }

  /** The human-readable report. */
  public String toText() {
    StringBuilder sb = new StringBuilder();
    sb.append("file:            ").append(file).append('\n');
    if (refused()) {
      return sb.append("REFUSED:         ").append(refusal).append('\n').toString();
    }
    sb.append("format:          ").append(format == WeightFormat.PICKLE
        ? "pickle, protocol " + protocol : "numpy .npz, .npy version " + protocol).append('\n');
    sb.append("layout:          ").append(layout).append('\n');
    if (!globals.isEmpty()) {
      sb.append("globals:         ");
      globals.forEach((k, v) -> sb.append(k).append(" x").append(v).append("; "));
      sb.setLength(sb.length() - 2);
      sb.append('\n');
    }
    sb.append("top-level type:  ").append(topLevelType).append('\n');
    sb.append("modules:         ").append(moduleCount).append('\n');
    sb.append("arrays:          ").append(arrayCount).append('\n');
    sb.append("parameters:      ").append(String.format("%,d", totalElements)).append('\n');
    sb.append("variant:         ").append(variant != null
        ? variant + " (" + numClasses + " classes)" : "unknown - " + variantNote).append('\n');
    sb.append("first arrays:\n");
    firstParams.forEach(p -> sb.append("  ").append(p).append('\n'));
    warnings.forEach(w -> sb.append("warning: ").append(w).append('\n'));
    return sb.toString();
  }
}
