/**
 * The metrics on hand-made evaluator outputs (no network): clusters of features stand for the classes, so the
 * right answer of each metric is known.
 */
import { describe, expect, it } from "vitest";
import type { Predictions } from "../../lib/gan/diagnostics/classifier";
import { kthNeighbourRadii2, meanPairwiseDistance, metricsFromPredictions, realReference, shareInsideBalls } from "../../lib/gan/diagnostics/metrics";
import { Rng } from "../../lib/gan/rng";

const L = 10;
const D = 16;

/** `perLabel` points per label around label-specific centres (spread `spread`), read as `predict(label)`. */
function clusters(
  perLabel: number,
  seed: number,
  opts: { spread?: number; offset?: number; predict?: (label: number, i: number) => number } = {},
): { p: Predictions; labels: Int32Array } {
  const centres = new Rng(1234);
  const centre = Array.from({ length: L }, () => Float32Array.from({ length: D }, () => 10 * centres.next()));
  const rng = new Rng(seed);
  const n = perLabel * L;
  const features = new Float32Array(n * D);
  const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / perLabel));
  const noise = new Float32Array(D);
  for (let i = 0; i < n; i++) {
    rng.normal(noise, opts.spread ?? 1);
    for (let t = 0; t < D; t++) features[i * D + t] = centre[labels[i]!]![t]! + noise[t]! + (opts.offset ?? 0);
  }
  const predicted = Int32Array.from(labels, (l, i) => (opts.predict ? opts.predict(l, i) : l));
  return { p: { count: n, labels: predicted, probs: new Float32Array(n * (L + 1)), features }, labels };
}

describe("k-NN helpers", () => {
  it("finds the k-th nearest other point and who lies inside the balls", () => {
    const pts = Float32Array.from([0, 1, 3, 6]); // 1-D
    expect([...kthNeighbourRadii2(pts, 4, 1, 1)]).toEqual([1, 1, 4, 9]);
    expect([...kthNeighbourRadii2(pts, 4, 1, 2)]).toEqual([9, 4, 9, 25]);
    expect(shareInsideBalls(Float32Array.from([0.5, 10, -1.5]), 3, pts, Float64Array.from([1, 1, 4, 9]), 1)).toBeCloseTo(1 / 3, 12);
    expect(meanPairwiseDistance(Float32Array.from([0, 0, 3, 4, 6, 8]), [0, 1, 2], 2)).toBeCloseTo((5 + 10 + 5) / 3, 12);
    expect(meanPairwiseDistance(Float32Array.from([1, 2]), [0], 2)).toBeNaN();
  });
});

describe("metricsFromPredictions", () => {
  const real = clusters(50, 1);
  const ref = realReference(real.p, real.labels, L);

  it("scores samples of the real distribution as real: high precision and recall, small distance, diversity ~1", () => {
    const gen = clusters(50, 2);
    const m = metricsFromPredictions(gen.p, gen.labels, ref);
    expect(m.labelAccuracy).toBe(1);
    expect(m.coverage).toBe(10);
    expect(m.classEntropy).toBeCloseTo(Math.log2(10), 12);
    expect(m.precision).toBeGreaterThan(0.8);
    expect(m.recall).toBeGreaterThan(0.8);
    expect(m.diversity).toBeGreaterThan(0.9);
    expect(m.diversity).toBeLessThan(1.1);
    const far = metricsFromPredictions(clusters(50, 3, { offset: 5 }).p, gen.labels, ref);
    expect(m.frechetDistance).toBeLessThan(0.05 * far.frechetDistance);
    expect(far.precision).toBeLessThan(0.05);
    expect(far.recall).toBeLessThan(0.05);
  });

  it("flags one image for every label: coverage 1, diversity 0, recall 0", () => {
    const one = clusters(50, 2, { predict: () => 3 });
    // every feature row equal to the first label-3 point
    const row = one.p.features.slice(150 * D, 151 * D);
    for (let i = 0; i < one.p.count; i++) one.p.features.set(row, i * D);
    const m = metricsFromPredictions(one.p, one.labels, ref);
    expect(m.coverage).toBe(1);
    expect(m.classEntropy).toBe(0);
    expect(m.labelAccuracy).toBeCloseTo(0.1, 12);
    expect(m.diversity).toBe(0);
    expect(m.minClassDiversity).toBe(0);
    expect(m.recall).toBeLessThan(0.02);
    expect(m.perClass[3]).toMatchObject({ label: 3, requested: 50, predicted: 500, labelAccuracy: 1, diversity: 0 });
  });

  it("counts a class as covered from 10% of its fair share, leaves 'not a digit' out of coverage and entropy", () => {
    // label 0's images: 4 read as 0 (under 5 = 10% of 50), the rest as 1; label 9's: all "not a digit" (10)
    const gen = clusters(50, 2, { predict: (l, i) => (l === 0 ? (i < 4 ? 0 : 1) : l === 9 ? L : l) });
    const m = metricsFromPredictions(gen.p, gen.labels, ref);
    expect(m.coverage).toBe(8); // 1..8
    expect(m.unrecognized).toBeCloseTo(0.1, 12);
    expect(m.labelAccuracy).toBeCloseTo((4 + 400) / 500, 12);
    const shares = [4, 96, 50, 50, 50, 50, 50, 50, 50].map((c) => c / 450);
    expect(m.classEntropy).toBeCloseTo(-shares.reduce((s, p) => s + p * Math.log2(p), 0), 12);
    expect(m.perClass[9]!.labelAccuracy).toBe(0);
    const loose = metricsFromPredictions(gen.p, gen.labels, ref, { coverageShare: 0.05 });
    expect(loose.coverage).toBe(9);
  });

  it("reports a partial collapse as that label's diversity, and keeps every number finite", () => {
    const gen = clusters(50, 2);
    const row = gen.p.features.slice(5 * 50 * D, (5 * 50 + 1) * D);
    for (let i = 250; i < 300; i++) gen.p.features.set(row, i * D); // label 5 collapsed to one point
    const m = metricsFromPredictions(gen.p, gen.labels, ref);
    expect(m.minDiversityLabel).toBe(5);
    expect(m.minClassDiversity).toBe(0);
    expect(m.diversity).toBeGreaterThan(0.8);
    expect(m.diversity).toBeLessThan(0.95);
    expect(m.coverage).toBe(10);
    const numbers = JSON.stringify(m).match(/-?[\d.e+-]+|null/g)!;
    expect(numbers.length).toBeGreaterThan(50);
    expect(JSON.stringify(m)).not.toMatch(/NaN|Infinity/);
  });

  it("rejects labels out of range and mismatched sizes", () => {
    const gen = clusters(5, 2);
    expect(() => metricsFromPredictions(gen.p, gen.labels.subarray(1), ref)).toThrow(/49 labels for 50 images/);
    expect(() =>
      metricsFromPredictions(
        gen.p,
        gen.labels.map(() => 10),
        ref,
      ),
    ).toThrow(/label 10 of image 0 is outside 0\.\.9/);
  });
});
