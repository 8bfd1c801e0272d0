/**
 * Defaults of the diagnostics that the CLI's help names, in a module without TensorFlow.js, so a usage error
 * answers at once.
 */
/** Generated images per label in the evaluation batch (and real reference images per label). */
export const DEFAULT_PER_LABEL = 50;
/** Images per label of the evaluation batch used for gradient norms. */
export const DEFAULT_GRADIENT_PER_LABEL = 8;
/** Where evaluators are cached, relative to the working directory. */
export const DEFAULT_EVALUATOR_DIR = "data/evaluators";
/** Epochs the evaluator trains. */
export const DEFAULT_EVALUATOR_EPOCHS = 60;
