package org.nfnet.training.data;

/**
 * Training augmentations, applied in the graph to whole batches (see {@link RandAugment} and {@link
 * MixCut}).
 *
 * @param randAugment DeepMind level string such as {@code "405"} (4 layers, magnitude 5); null or
 *     empty disables RandAugment
 * @param mixupAlpha Beta(alpha, alpha) parameter for MixUp; 0 disables MixUp (DeepMind: 0.2)
 * @param cutmix CutMix with a Beta(1, 1) area ratio. With both MixUp and CutMix on, the first half of
 *     each batch gets MixUp and the second half CutMix, as in DeepMind's NFNet training.
 */
public record Augment(String randAugment, float mixupAlpha, boolean cutmix) {
  public static final Augment NONE = new Augment(null, 0f, false);

  public Augment {
    if (randAugment != null && randAugment.isBlank()) randAugment = null;
    if (randAugment != null) RandAugment.parseLevel(randAugment); // validate early
    if (mixupAlpha < 0) throw new IllegalArgumentException("mixupAlpha must be >= 0");
  }

  /** RandAugment at {@code raLevel} + MixUp(0.2) + CutMix, like DeepMind's NFNet recipe. */
  public static Augment deepMind(String raLevel) {
    return new Augment(raLevel, 0.2f, true);
  }

  public boolean mixup() {
    return mixupAlpha > 0;
  }

  public boolean any() {
    return randAugment != null || mixup() || cutmix;
  }
}
