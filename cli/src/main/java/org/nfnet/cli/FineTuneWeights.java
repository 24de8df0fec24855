package org.nfnet.cli;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Locale;
import org.nfnet.converters.HaikuParams;
import org.nfnet.converters.ParamArray;
import org.nfnet.converters.validation.ValidationReport;
import org.nfnet.converters.WeightFileReader;
import org.nfnet.converters.validation.WeightValidator;
import org.nfnet.training.FineTuning;
import org.nfnet.training.ParameterSource;
import org.nfnet.zoo.NFNetConfig;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterSpec;

/**
 * {@code train --finetune FILE}: the start weights, read and checked exactly as {@code convert}
 * checks them (every parameter of the variant present with its shape, no NaN/Inf) before any graph
 * is built or any file of the run is written. The file's own classifier size is what its head is
 * checked against; the head itself is re-initialised for the data's classes.
 */
final class FineTuneWeights implements ParameterSource, AutoCloseable {
  private final HaikuParams params;

  private FineTuneWeights(HaikuParams params) {
    this.params = params;
  }

  /** Reads and validates {@code file} for {@code model}; closes the file on failure. */
  static FineTuneWeights open(Path file, NFNetConfig model) {
    HaikuParams hp = WeightFileReader.read(file);
    try {
      ParamArray head = hp.get(classifierWeight(model).haikuKey());
      NFNetConfig asSaved = head != null && head.shape().length == 2
          ? model.withNumClasses((int) head.shape()[1]) : model;
      ValidationReport r = WeightValidator.validate(hp, asSaved);
      r.throwIfFailed(file);
      return new FineTuneWeights(hp);
    } catch (RuntimeException e) {
      try {
        hp.close();
      } catch (java.io.IOException ignored) {
        // the validation error is the one to report
      }
      throw e;
    }
  }

  @Override
  public String description() {
    return params.file().toString();
  }

  @Override
  public FloatBuffer values(ParameterSpec spec) {
    ParamArray a = params.get(spec.haikuKey());
    return a == null ? null : a.toFloatBuffer();
  }

  /** The header line: what is loaded, what is re-initialised, what is frozen. */
  String summary(NFNetConfig model, FineTuning ft) {
    long loaded = 0;
    long loadedArrays = 0;
    long frozen = 0;
    var isFrozen = ft.frozen(model);
    for (ParameterSpec s : NFNetStructure.parameters(model)) {
      if (ft.loads(s)) {
        loaded += s.size();
        loadedArrays++;
      }
      if (isFrozen.test(s)) {
        frozen += s.size();
      }
    }
    String frozenText = ft.freezeStages() < 0 ? "nothing frozen"
        : String.format(Locale.ROOT, "frozen: stem%s (%,d parameters)", ft.freezeStages() == 0 ? ""
            : ft.freezeStages() == 1 ? " + stage 1" : " + stages 1-" + ft.freezeStages(), frozen);
    return String.format(Locale.ROOT, "loaded %,d arrays (%,d parameters) from %s; "
            + "re-initialised: classifier %s (%d classes, N(0, 0.01)); %s",
        loadedArrays, loaded, params.file(), NFNetStructure.classifierModule(), model.numClasses(),
        frozenText);
  }

  @Override
  public void close() throws java.io.IOException {
    params.close();
  }

  private static ParameterSpec classifierWeight(NFNetConfig model) {
    return NFNetStructure.parameters(model).stream()
        .filter(s -> s.module().equals(NFNetStructure.classifierModule()) && s.name().equals("w"))
        .findFirst().orElseThrow();
  }
}
