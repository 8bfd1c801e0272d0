/**
 * Diagnostics: quality and mode-collapse metrics of a training GAN, read through an evaluator network trained
 * on the data set's held-out split (docs/diagnostics.md).
 *
 * | file | what it is |
 * | --- | --- |
 * | `diagnostics.ts` | `Diagnostics`: the per-epoch hook (`evaluate(model, epoch)`), the fixed evaluation batch, D(x), gradient norms |
 * | `metrics.ts` | `computeMetrics` / `metricsFromPredictions`: label accuracy, coverage, entropy, Fréchet distance, precision/recall, diversity |
 * | `collapse.ts` | `CollapseDetector` and the documented alarm rules (pure TypeScript, browser-safe) |
 * | `classifier.ts` | the evaluator CNN: spec, forward pass, training with augmentation |
 * | `evaluator.ts` | the evaluator's cache next to the data set (tf.io weights layout + evaluator.json) |
 * | `linalg.ts` | Jacobi eigen-decomposition, PSD square root, covariance, Fréchet distance (plain JS) |
 * | `streams.ts` | the diagnostics' seeded-stream purposes |
 * | `defaults.ts` | the defaults the CLI's help names (no TensorFlow.js) |
 */
export * from "./classifier";
export * from "./collapse";
export * from "./defaults";
export * from "./diagnostics";
export * from "./evaluator";
export * from "./linalg";
export * from "./metrics";
export * from "./streams";
