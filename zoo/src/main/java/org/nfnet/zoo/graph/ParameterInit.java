package org.nfnet.zoo.graph;

/**
 * How a freshly created parameter is initialised, mirroring Haiku's defaults in DeepMind's code.
 */
public enum ParameterInit {
  /** WSConv2D kernels: VarianceScaling(1.0, fan_in, truncated normal). WS makes the scale moot. */
  CONV_FAN_IN,
  /** hk.Linear default: TruncatedNormal(stddev = 1 / sqrt(fan_in)); used by squeeze-excite. */
  LINEAR_FAN_IN,
  /** The classifier: RandomNormal(0, 0.01) (DeepMind's fc_init default). */
  CLASSIFIER_NORMAL,
  /** Gains. */
  ONES,
  /** Biases and skip_gain (SkipInit: every residual branch starts switched off). */
  ZEROS
}
