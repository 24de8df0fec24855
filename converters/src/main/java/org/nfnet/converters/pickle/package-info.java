/**
 * The strict pickle virtual machine for Haiku parameter pickles (DeepMind's release files in their
 * dill 0.3.x / numpy {@literal <=} 1.18 layout, and the plain standard-pickler layout): an allow-list of
 * globals with hand-written meanings, nothing in a file ever selects code.
 */
package org.nfnet.converters.pickle;
