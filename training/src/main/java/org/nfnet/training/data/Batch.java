package org.nfnet.training.data;

import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The tensors of one pipeline step. All three operands come from the same {@code IteratorGetNext}
 * (plus in-graph augmentation), so fetching any subset of them in one {@code Session.run} advances
 * the pipeline by exactly one batch.
 *
 * @param images [N, H, W, 3] float32, normalised with DeepMind's ImageNet mean/std
 * @param labels [N] int32 hard labels (after MixUp/CutMix: the class with the largest target weight)
 * @param targets [N, C] float32 target distribution: one-hot, or soft targets after MixUp/CutMix;
 *     each row sums to 1. Use these for the cross-entropy loss.
 * @param initializer iterator initialiser ({@code MakeIterator}); run once before the first step,
 *     and again to restart an evaluation pass. May be null.
 */
public record Batch(
    Operand<TFloat32> images, Operand<TInt32> labels, Operand<TFloat32> targets, Op initializer) {}
