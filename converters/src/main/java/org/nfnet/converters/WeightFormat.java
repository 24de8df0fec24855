package org.nfnet.converters;

/** The two container formats NFNet weights come in; detected from the first bytes, never the name. */
public enum WeightFormat {
  /** A (dill) pickle of a Haiku parameter tree: DeepMind's release files, despite their .npz name. */
  PICKLE,
  /** A real numpy .npz: a zip of {@code module/param.npy} entries. */
  NPZ
}
