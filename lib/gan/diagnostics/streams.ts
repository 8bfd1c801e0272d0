/**
 * Purposes (first key of `deriveSeed`) for the diagnostics' random draws. They live here, not in `../rng.ts`,
 * and start at 100 so they never coincide with the engine's `Stream` values (1–7).
 */
export const DiagnosticsStream = {
  /** The evaluator's initial weights: deriveSeed(seed, evaluatorInit, parameter index). */
  evaluatorInit: 101,
  /** The evaluator's batch order: deriveSeed(seed, evaluatorShuffle, epoch). */
  evaluatorShuffle: 102,
  /** The evaluator's augmentation (random shifts): deriveSeed(seed, evaluatorAugment, epoch). */
  evaluatorAugment: 103,
  /** The evaluator's synthetic non-digits: deriveSeed(seed, evaluatorNegatives, epoch). */
  evaluatorNegatives: 106,
  /** Which real images form the reference set: deriveSeed(seed, reference, label). */
  reference: 104,
  /** The fixed evaluation noise: deriveSeed(seed, evalNoise). */
  evalNoise: 105,
} as const;
