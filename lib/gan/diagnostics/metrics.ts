/**
 * Quality and mode-collapse metrics of a set of generated images against real ones, read through the evaluator
 * (its predicted labels and its penultimate-layer features). Pure computation on arrays once the evaluator has
 * run, so the real side ({@link RealReference}) is prepared once per run and each epoch pays for its own
 * images only.
 *
 * - labelAccuracy: share of generated images the evaluator reads as the label they were asked for;
 *   unrecognized: share it reads as "not a digit" (its reject output).
 * - coverage: classes the evaluator finds among the generated images (a class counts when it gets at least
 *   `coverageShare` of its fair share, count / numLabels); classEntropy: entropy (bits) of that histogram
 *   (images read as "not a digit" left out).
 * - frechetDistance: Fréchet distance between Gaussians fitted to generated and real features (FID's recipe in
 *   the evaluator's feature space).
 * - precision / recall: k-NN manifolds (Kynkäänniemi et al. 2019): precision is the share of generated
 *   features inside some real feature's ball (radius = distance to its k-th nearest real neighbour); recall is
 *   the share of real features inside some generated feature's ball.
 * - diversity: per label, the mean pairwise feature distance of the generated images asked for that label over
 *   the same for real images of that label; `diversity` is the mean of these ratios over labels.
 */
import type { Classifier, Predictions } from "./classifier";
import { frechetDistance, gaussianStats, type GaussianStats } from "./linalg";

export interface MetricOptions {
  /** Neighbours for the k-NN radii (Kynkäänniemi et al. use 3). */
  k?: number;
  /** A class is covered when it gets at least this share of count / numLabels generated images (default 0.1). */
  coverageShare?: number;
}

export const DEFAULT_K = 3;
export const DEFAULT_COVERAGE_SHARE = 0.1;

/** What the metrics need of the real images, computed once per run. */
export interface RealReference {
  count: number;
  numLabels: number;
  /** Feature size. */
  d: number;
  labels: Int32Array;
  features: Float32Array;
  stats: GaussianStats;
  k: number;
  /** Squared distance from each real feature to its k-th nearest other real feature. */
  radii2: Float64Array;
  /** Mean pairwise feature distance among real images of each label (NaN with fewer than 2). */
  diversity: number[];
}

export type PerClassMetrics = {
  label: number;
  /** Generated images asked for this label. */
  requested: number;
  /** Generated images the evaluator reads as this label. */
  predicted: number;
  /** Share of the images asked for this label that the evaluator reads as it (null when none were asked). */
  labelAccuracy: number | null;
  /** Mean pairwise feature distance of the images asked for this label / the same for real images (null: too few). */
  diversity: number | null;
  /** The absolute mean pairwise feature distances behind `diversity`. */
  generatedSpread: number | null;
  realSpread: number | null;
};

/** The metrics of one set of generated images; every field is a finite number or, where stated, null. */
export interface QualityMetrics {
  /** Generated images measured. */
  count: number;
  numLabels: number;
  labelAccuracy: number;
  /** Share of generated images the evaluator reads as "not a digit" (0 without a reject output). */
  unrecognized: number;
  coverage: number;
  classEntropy: number;
  frechetDistance: number;
  precision: number;
  recall: number;
  /** Mean over labels of the per-label diversity ratio (labels without one are left out; 0 if none has one). */
  diversity: number;
  /** The lowest per-label diversity ratio, and its label. */
  minClassDiversity: number;
  minDiversityLabel: number;
  perClass: PerClassMetrics[];
}

/** Squared Euclidean distance between row i of a and row j of b (d features each). */
function dist2(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let s = 0;
  const ai = i * d;
  const bj = j * d;
  for (let t = 0; t < d; t++) {
    const x = a[ai + t]! - b[bj + t]!;
    s += x * x;
  }
  return s;
}

/** Squared distance from each of `count` rows to its k-th nearest other row (Infinity with ≤ k rows). */
export function kthNeighbourRadii2(features: Float32Array, count: number, d: number, k: number): Float64Array {
  const radii = new Float64Array(count);
  const best = new Float64Array(k);
  for (let i = 0; i < count; i++) {
    best.fill(Infinity);
    for (let j = 0; j < count; j++) {
      if (j === i) continue;
      const x = dist2(features, i, features, j, d);
      if (x >= best[k - 1]!) continue;
      // insert into the sorted k smallest
      let p = k - 1;
      while (p > 0 && best[p - 1]! > x) {
        best[p] = best[p - 1]!;
        p--;
      }
      best[p] = x;
    }
    radii[i] = best[k - 1]!;
  }
  return radii;
}

/** Share of the `count` query rows that lie inside some ball (centre row j of `centres`, squared radius radii2[j]). */
export function shareInsideBalls(query: Float32Array, count: number, centres: Float32Array, radii2: Float64Array, d: number): number {
  if (count === 0) return 0;
  let inside = 0;
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < radii2.length; j++) {
      if (dist2(query, i, centres, j, d) <= radii2[j]!) {
        inside++;
        break;
      }
    }
  }
  return inside / count;
}

/** Mean pairwise Euclidean distance among the rows `members` (NaN with fewer than 2). */
export function meanPairwiseDistance(features: Float32Array, members: number[], d: number): number {
  if (members.length < 2) return Number.NaN;
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < members.length; a++) {
    for (let b = a + 1; b < members.length; b++) {
      sum += Math.sqrt(dist2(features, members[a]!, features, members[b]!, d));
      pairs++;
    }
  }
  return sum / pairs;
}

function byLabel(labels: ArrayLike<number>, numLabels: number): number[][] {
  const groups: number[][] = Array.from({ length: numLabels }, () => []);
  for (let i = 0; i < labels.length; i++) groups[labels[i]!]?.push(i);
  return groups;
}

function checkSet(name: string, p: Predictions, labels: ArrayLike<number>, numLabels: number): void {
  if (labels.length !== p.count) throw new RangeError(`${name}: ${labels.length} labels for ${p.count} images`);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= numLabels) throw new RangeError(`${name}: label ${l} of image ${i} is outside 0..${numLabels - 1}`);
  }
}

/** Prepares the real side: Gaussian statistics, k-NN radii and per-label spread of the real features. */
export function realReference(real: Predictions, realLabels: ArrayLike<number>, numLabels: number, opts: MetricOptions = {}): RealReference {
  checkSet("real", real, realLabels, numLabels);
  const k = opts.k ?? DEFAULT_K;
  const d = real.features.length / Math.max(1, real.count);
  const groups = byLabel(realLabels, numLabels);
  return {
    count: real.count,
    numLabels,
    d,
    labels: Int32Array.from(realLabels),
    features: real.features,
    stats: gaussianStats(real.features, real.count, d),
    k,
    radii2: kthNeighbourRadii2(real.features, real.count, d, k),
    diversity: groups.map((members) => meanPairwiseDistance(real.features, members, d)),
  };
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** The metrics of generated images (their evaluator predictions and requested labels) against a real reference. */
export function metricsFromPredictions(
  generated: Predictions,
  generatedLabels: ArrayLike<number>,
  ref: RealReference,
  opts: MetricOptions = {},
): QualityMetrics {
  const L = ref.numLabels;
  checkSet("generated", generated, generatedLabels, L);
  const n = generated.count;
  const d = ref.d;
  if (generated.features.length !== n * d) throw new RangeError(`generated features: ${generated.features.length} values for ${n} images of ${d}`);
  const histogram = new Array<number>(L).fill(0);
  let right = 0;
  let rejected = 0;
  for (let i = 0; i < n; i++) {
    const p = generated.labels[i]!;
    if (p >= L)
      rejected++; // the evaluator's "not a digit" output
    else histogram[p] = histogram[p]! + 1;
    if (p === generatedLabels[i]) right++;
  }
  const recognised = n - rejected;
  const share = opts.coverageShare ?? DEFAULT_COVERAGE_SHARE;
  const minCount = Math.max(1, Math.ceil((share * n) / L));
  const coverage = histogram.filter((c) => c >= minCount).length;
  let entropy = 0;
  for (const c of histogram) if (c > 0) entropy -= (c / recognised) * Math.log2(c / recognised);

  const stats = gaussianStats(generated.features, n, d);
  const fd = n >= 2 ? frechetDistance(ref.stats, stats) : Number.NaN;
  const k = ref.k;
  const precision = shareInsideBalls(generated.features, n, ref.features, ref.radii2, d);
  const genRadii2 = kthNeighbourRadii2(generated.features, n, d, k);
  const recall = shareInsideBalls(ref.features, ref.count, generated.features, genRadii2, d);

  const groups = byLabel(generatedLabels, L);
  const perClass: PerClassMetrics[] = groups.map((members, label) => {
    const spread = meanPairwiseDistance(generated.features, members, d);
    const realSpread = ref.diversity[label]!;
    const ratio = spread / realSpread;
    let ok = 0;
    for (const i of members) if (generated.labels[i] === label) ok++;
    return {
      label,
      requested: members.length,
      predicted: histogram[label]!,
      labelAccuracy: members.length > 0 ? ok / members.length : null,
      diversity: finiteOrNull(ratio),
      generatedSpread: finiteOrNull(spread),
      realSpread: finiteOrNull(realSpread),
    };
  });
  const ratios = perClass.filter((c) => c.diversity !== null);
  const diversity = ratios.length > 0 ? ratios.reduce((s, c) => s + c.diversity!, 0) / ratios.length : 0;
  const lowest = ratios.reduce<PerClassMetrics | null>((lo, c) => (lo === null || c.diversity! < lo.diversity! ? c : lo), null);
  return {
    count: n,
    numLabels: L,
    labelAccuracy: n > 0 ? right / n : 0,
    unrecognized: n > 0 ? rejected / n : 0,
    coverage,
    classEntropy: entropy,
    frechetDistance: fd,
    precision,
    recall,
    diversity,
    minClassDiversity: lowest?.diversity ?? 0,
    minDiversityLabel: lowest?.label ?? -1,
    perClass,
  };
}

export interface ComputeMetricsInput extends MetricOptions {
  /** Generated images, NHWC in [0, 1], and the label each was asked for. */
  generated: Float32Array;
  generatedLabels: ArrayLike<number>;
  /** Real images, NHWC in [0, 1], and their labels. */
  real: Float32Array;
  realLabels: ArrayLike<number>;
  classifier: Classifier;
}

/** Runs the evaluator on both image sets and computes every metric (see the module's header). */
export async function computeMetrics(input: ComputeMetricsInput): Promise<QualityMetrics> {
  const c = input.classifier;
  const size = c.shape.height * c.shape.width * c.shape.channels;
  const real = await c.predict(input.real, input.real.length / size);
  const generated = await c.predict(input.generated, input.generated.length / size);
  const ref = realReference(real, input.realLabels, c.numLabels, input);
  return metricsFromPredictions(generated, input.generatedLabels, ref, input);
}
