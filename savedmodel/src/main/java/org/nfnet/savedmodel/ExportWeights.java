package org.nfnet.savedmodel;

import org.nfnet.zoo.graph.ParameterSource;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * Where an export graph's parameters live: {@link PreloadedVariables} (checkpoint variables, the
 * default) or {@link FrozenWeights} (graph constants). The exporter builds the network twice
 * (plain and {@code encoded/}); the second copy reads the first copy's tensors through
 * {@link #read}.
 */
interface ExportWeights extends ParameterSource {
  /** The tensor the first network copy got for this parameter. */
  Operand<TFloat32> read(String haikuKey);

  /** Fails unless the network used every parameter the export was given. */
  void checkAllRequested();

  /** Number of stored float values. */
  long storedValues();
}
