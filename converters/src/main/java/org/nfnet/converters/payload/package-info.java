/**
 * Where an array's bytes live (a file region, an inflater, a small heap array) and how they are
 * streamed into a destination buffer without a Java-heap copy; shared by the format readers.
 */
package org.nfnet.converters.payload;
