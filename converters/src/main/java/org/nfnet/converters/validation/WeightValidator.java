package org.nfnet.converters.validation;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.ParamArray;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;

/**
 * Checks read weights against what an {@link NFNetConfig} expects, before any graph is built:
 * every expected parameter present with its exact shape, nothing unexpected (a warning, or an
 * error in strict mode), and no NaN/Inf values.
 */
public final class WeightValidator {
  private static final int LIST_LIMIT = 10;

  /**
   * @param strict extra entries in the file are errors instead of warnings
   * @param checkFinite read every array and fail on NaN/Inf (reads all data once; the converter
   *     may skip this and use {@link NonFiniteScan} on the buffers it fills anyway)
   */
  public record Options(boolean strict, boolean checkFinite) {
    public static Options defaults() {
      return new Options(false, true);
    }
  }

  private WeightValidator() {}

  public static ValidationReport validate(HaikuParams params, NFNetConfig config) {
    return validate(params, config, Options.defaults());
  }

  public static ValidationReport validate(HaikuParams params, NFNetConfig config, Options options) {
    List<String> errors = new ArrayList<>();
    List<String> warnings = new ArrayList<>(params.warnings());
    Map<String, ParameterSpec> expected = new LinkedHashMap<>();
    for (ParameterSpec s : NFNetStructure.parameters(config)) {
      expected.put(s.haikuKey(), s);
    }
    List<String> missing = new ArrayList<>();
    for (ParameterSpec s : expected.values()) {
      ParamArray a = params.get(s.haikuKey());
      if (a == null) {
        missing.add(s.haikuKey());
      } else if (!Arrays.equals(a.shape(), s.shape())) {
        errors.add("parameter " + s.haikuKey() + " has shape " + a.shapeString() + ", expected "
            + s.shapeString());
      }
    }
    if (!missing.isEmpty()) {
      errors.add(0, missing.size() + " expected parameter(s) missing, e.g. " + firstFew(missing));
    }
    List<String> extra = new ArrayList<>();
    for (String k : params.byKey().keySet()) {
      if (!expected.containsKey(k)) {
        extra.add(k);
      }
    }
    if (!extra.isEmpty()) {
      String msg = extra.size() + " unexpected entr" + (extra.size() == 1 ? "y" : "ies")
          + " not used by variant " + config.name() + ": " + firstFew(extra);
      (options.strict() ? errors : warnings).add(msg);
    }
    if (options.checkFinite()) {
      errors.addAll(nonFiniteErrors(params));
    }
    return new ValidationReport(config.name(), errors, warnings);
  }

  /** One error per array holding NaN or Inf, reading each array once through a reused buffer. */
  static List<String> nonFiniteErrors(HaikuParams params) {
    List<String> errors = new ArrayList<>();
    long max = params.byKey().values().stream().mapToLong(ParamArray::float32ByteLength).max().orElse(0);
    ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.max(max, 4)).order(ByteOrder.nativeOrder());
    for (ParamArray a : params.byKey().values()) {
      buf.clear();
      a.copyAsFloat32(buf);
      buf.flip();
      NonFiniteScan.Result r = NonFiniteScan.scan(buf);
      if (!r.clean()) {
        errors.add("parameter " + a.haikuKey() + " contains " + r.nanCount() + " NaN and "
            + r.infCount() + " infinite value(s) (first at flat index " + r.firstIndex() + ")");
      }
    }
    return errors;
  }

  private static String firstFew(List<String> names) {
    List<String> shown = names.subList(0, Math.min(LIST_LIMIT, names.size()));
    return String.join(", ", shown) + (names.size() > LIST_LIMIT ? ", ... (" + names.size() + " in total)" : "");
  }
}
