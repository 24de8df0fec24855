package org.nfnet.converters.pickle;

/**
 * Which writer a pickle's byte layout points to, noted while it is read: how numpy's
 * {@code _reconstruct} was referenced and how dtype flags were written. DeepMind's release files
 * (dill 0.3.x, numpy {@literal <=} 1.18) use dill's {@code _get_attr(_import_module(...), '_reconstruct')}
 * and int flags; the standard pickler with numpy >= 1.19 writes a plain GLOBAL and bool flags.
 */
final class LayoutTraits {
  boolean dillReconstruct;
  boolean intDtypeFlags;
  boolean boolDtypeFlags;

  /** A one-line description for {@code inspect}. */
  String describe() {
    if (dillReconstruct && intDtypeFlags && !boolDtypeFlags) {
      return "dill 0.3.x / numpy <= 1.18 release layout (as DeepMind's F0-F6 files)";
    }
    if (!dillReconstruct && boolDtypeFlags && !intDtypeFlags) {
      return "plain layout (standard pickler, numpy >= 1.19)";
    }
    if (!dillReconstruct && !intDtypeFlags && !boolDtypeFlags) {
      return "plain layout (no dtype flags)";
    }
    return "mixed layout: _reconstruct " + (dillReconstruct ? "via dill's _get_attr" : "as a plain global")
        + ", dtype flags as " + (intDtypeFlags && boolDtypeFlags ? "ints and bools" : intDtypeFlags ? "ints" : "bools");
  }
}
