package org.nfnet.zoo.graph;

import java.util.List;
import org.nfnet.zoo.BlockSpec;
import org.nfnet.zoo.NFNetStructure;
import org.nfnet.zoo.ParameterNames;
import org.nfnet.zoo.ParameterSpec;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * The NFNet forward graph as a chain of segments sharing one build: segment 0 is the stem (four
 * WSConv2D, strides 2,1,1,2, activations between them), segment k (1..{@link #count()} - 1) is
 * NFBlock k - 1, and {@link #head} is the final 1x1 conv + activation, spatial mean pool, dropout
 * (training) and the linear classifier. {@link NFNet#build} chains them; a training step that
 * recomputes activations builds each segment a second time in its backward pass, from the
 * segment's input and the same parameter tensors.
 *
 * <p>The segments of one instance share their name scopes and parameter requests, so building
 * them in order gives the graph {@link NFNet#build} gives.
 */
public final class NFNetSegments {
  private final BuildContext ctx;
  private final List<BlockSpec> blocks;

  NFNetSegments(BuildContext ctx) {
    this.ctx = ctx;
    this.blocks = NFNetStructure.blocks(ctx.config);
  }

  /** The stem and the blocks: the segments before the head. */
  public int count() {
    return 1 + blocks.size();
  }

  /** Segment {@code k} applied to {@code x} (the images for k = 0, else segment k - 1's output). */
  public Operand<TFloat32> segment(int k, Operand<TFloat32> x) {
    if (k < 0 || k >= count()) {
      throw new IndexOutOfBoundsException("segment " + k + " of " + count());
    }
    return k == 0 ? stem(x) : NFBlock.apply(ctx, blocks.get(k - 1), x);
  }

  /** The head on the last segment's output: logits, and the pooled features before dropout. */
  public NFNetOutputs head(Operand<TFloat32> x) {
    Ops root = ctx.scope(ParameterNames.ROOT);
    int ch = blocks.get(blocks.size() - 1).outChannels();
    Operand<TFloat32> out = Activations.gamma(root, ctx.config.activation(),
        WSConv2D.applyActivated(ctx, NFNetStructure.finalConvModule(), x, 1, ch,
            ctx.config.finalChannels(), 1, ctx.config.activation()));
    Operand<TFloat32> pooled = root.withName("pool").math.mean(out,
        root.constant(new int[] {1, 2}));
    Operand<TFloat32> head = pooled;
    if (ctx.options.useDropout() && ctx.config.dropRate() > 0) {
      head = StochasticDepth.dropout(root, pooled, ctx.config.dropRate(),
          StochasticDepth.subSeed(root, ctx.options.seed(), 0L), ctx.options.hashMasks());
    }
    Operand<TFloat32> logits = Linear.apply(ctx, NFNetStructure.classifierModule(), head,
        ctx.config.finalChannels(), ctx.config.numClasses(), ParameterInit.CLASSIFIER_NORMAL);
    return new NFNetOutputs(logits, pooled);
  }

  /** Every parameter requested so far, in request order. */
  List<ParameterSpec> requested() {
    return List.copyOf(ctx.requested);
  }

  private Operand<TFloat32> stem(Operand<TFloat32> images) {
    Ops root = ctx.scope(ParameterNames.ROOT);
    Operand<TFloat32> out = images;
    int ch = 3;
    for (int i = 0; i < NFNetStructure.stemConvCount(); i++) {
      Operand<TFloat32> in = i == 0 ? out : Activations.unscaled(root, ctx.config.activation(),
          out, ctx.options.differentiated());
      int outCh = NFNetStructure.stemChannels(ctx.config, i);
      out = WSConv2D.apply(ctx, NFNetStructure.stemModule(i), in, 3, ch, outCh,
          NFNetStructure.stemStride(i));
      ch = outCh;
    }
    return out;
  }
}
