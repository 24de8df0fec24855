/**
 * In-graph input pipelines for NFNet training and evaluation (TF Java 1.1, graph mode).
 *
 * <h2>Use</h2>
 *
 * <pre>{@code
 * NFNetConfig cfg = NFNetConfig.variant("F0");
 * DataOptions opts = DataOptions.forConfig(cfg);          // train/test sizes, RA level, MixUp+CutMix
 * // or DataOptions.of(64).withAugment(new Augment("405", 0.2f, true))
 * FashionMnist fm = FashionMnist.load("fashion-mnist");  // Debian files, else bundled subset
 * InputSource input = fm.input(opts, 64, seed);         // batch 64; input.eval(): the test split
 * // or: ImageFolder.open(Path.of("imgs/train"), opts).input(64, seed, evalFolderOrNull)
 * // or: new SyntheticInput(...), new FixedBatchInput(...)
 *
 * Trainer.train(config, input, listener);               // the trainer builds it into its graph, or:
 * Batch b = input.build(tf, step);                      // in the training graph
 * var r = session.runner();                             // once (again to restart an eval pass):
 * b.initializers().forEach(r::addTarget); r.run();
 * // each step: fetch/consume b.images() [N,H,W,3], b.targets() [N,C] (soft), b.labels() [N]
 * }</pre>
 *
 * {@link org.nfnet.training.data.InputSource} is the one input abstraction: everything that feeds
 * training or evaluation implements it and yields {@link org.nfnet.training.data.Batch}es.
 *
 * <h2>Pipeline</h2>
 *
 * Raw {@code tf.data} ops ({@link org.nfnet.training.data.Pipe}): {@code TensorSliceDataset} ->
 * (training: {@code ShuffleDatasetV3} with the seed, {@code RepeatDataset}) -> per-example {@code
 * ParallelMapDatasetV2} (image folders: read, decode, crop/resize; then {@code
 * IgnoreErrorsDataset}) -> {@code BatchDatasetV2} -> batch-level {@code ParallelMapDatasetV2}
 * (Fashion-MNIST: shift/flip, RandAugment at 28 px, resize; image folders: RandAugment on the
 * resized crops; then normalisation, one-hot, MixUp/CutMix) -> {@code
 * PrefetchDataset} -> {@code IteratorV2}/{@code MakeIterator}/{@code IteratorGetNext}. Map
 * functions are {@link org.tensorflow.ConcreteFunction}s attached to the graph through the
 * {@code f} attribute. Nothing goes back to the host during a step.
 *
 * <h2>Randomness</h2>
 *
 * All augmentation uses stateless random ops seeded by {@code (seed, element or batch index)}
 * (the index comes from a {@code RangeDataset} zipped into the pipeline), and parallel maps are
 * deterministic, so the same seed reproduces the same batches.
 *
 * <h2>Training batch semantics</h2>
 *
 * Training batches have a static batch dimension (remainder dropped). With MixUp or CutMix on, a
 * training step consumes {@code 2 * batchSize} examples (DeepMind: every output example mixes two
 * distinct inputs), so an epoch is {@code size() / (2 * batchSize)} steps. Evaluation batches keep
 * file order, one pass, the last batch may be smaller; the iterator then raises {@code
 * TFOutOfRangeException}.
 */
package org.nfnet.training.data;
