/**
 * Real numpy {@code .npz} archives: the zip central directory (bounded and validated before use),
 * {@code .npy} headers, stored and deflated entries with CRC-32 and size checks on every copy.
 */
package org.nfnet.converters.npz;
