/** Checks of read weights against a variant: names, shapes, finiteness, variant detection. */
package org.nfnet.converters.validation;
