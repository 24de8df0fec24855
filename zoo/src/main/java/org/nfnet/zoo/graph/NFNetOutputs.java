package org.nfnet.zoo.graph;

import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * Tensors produced by one NFNet forward graph.
 *
 * @param logits [N, num_classes], before any softmax
 * @param pooled [N, final channels]: the mean-pooled output of the final conv + activation,
 *     before dropout (DeepMind's {@code outputs['pool']}); the embedding for retrieval/fine-tuning
 */
public record NFNetOutputs(Operand<TFloat32> logits, Operand<TFloat32> pooled) {}
