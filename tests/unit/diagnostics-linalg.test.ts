/**
 * The diagnostics' linear algebra: Jacobi eigen-decomposition, PSD square root, covariance and the Fréchet
 * distance, against constructions whose answers are known in closed form.
 */
import { describe, expect, it } from "vitest";
import {
  fromEigen,
  frechetDistance,
  gaussianStats,
  matMul,
  meanAndCovariance,
  sqrtPsd,
  symmetricEigen,
  type GaussianStats,
} from "../../lib/gan/diagnostics/linalg";
import { Rng } from "../../lib/gan/rng";

function randomMatrix(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n * n }, () => 2 * rng.next() - 1);
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j]!;
  return t;
}

/** A random orthogonal matrix (Gram-Schmidt on random columns). */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const a = randomMatrix(n, seed);
  const q = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const v = Float64Array.from({ length: n }, (_, i) => a[i * n + j]!);
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += v[i]! * q[i * n + k]!;
      for (let i = 0; i < n; i++) v[i] = v[i]! - dot * q[i * n + k]!;
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) q[i * n + j] = v[i]! / norm;
  }
  return q;
}

/** Q · diag(values) · Qᵀ */
function withEigenvalues(values: number[], seed: number): Float64Array {
  const n = values.length;
  return fromEigen({ values: Float64Array.from(values), vectors: randomOrthogonal(n, seed) }, n, (x) => x);
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

const stats = (mean: number[], cov: Float64Array): GaussianStats => ({ d: mean.length, mean: Float64Array.from(mean), cov });

describe("symmetricEigen (Jacobi)", () => {
  it("decomposes a random symmetric 64×64 matrix: A = V Λ Vᵀ with V orthonormal", () => {
    const n = 64;
    const r = randomMatrix(n, 3);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = r[i * n + j]! + r[j * n + i]!;
    const e = symmetricEigen(a, n);
    expect(
      maxAbsDiff(
        fromEigen(e, n, (x) => x),
        a,
      ),
    ).toBeLessThan(1e-10);
    const vtv = matMul(transpose(e.vectors, n), e.vectors, n);
    const identity = Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0));
    expect(maxAbsDiff(vtv, identity)).toBeLessThan(1e-12);
  });

  it("finds known eigenvalues, repeated and zero ones included", () => {
    const values = [5, 3, 3, 1e-3, 0, 0, 2.5, 7, 1, 1, 1, 0.25];
    const e = symmetricEigen(withEigenvalues(values, 9), values.length);
    const found = [...e.values].sort((x, y) => x - y);
    const want = [...values].sort((x, y) => x - y);
    expect(maxAbsDiff(found, want)).toBeLessThan(1e-12);
  });

  it("leaves its input alone and rejects a wrong size", () => {
    const a = Float64Array.from([2, 1, 1, 2]);
    symmetricEigen(a, 2);
    expect([...a]).toEqual([2, 1, 1, 2]);
    expect(() => symmetricEigen(a, 3)).toThrow(/4 values for a 3×3 matrix/);
    expect([...symmetricEigen(a, 2).values].sort()).toEqual([1, 3].map((x) => expect.closeTo(x, 12)));
  });
});

describe("sqrtPsd", () => {
  it("returns S with S·S = A for a full-rank and a rank-deficient covariance", () => {
    const n = 64;
    for (const rank of [200, 20]) {
      const rng = new Rng(rank);
      const x = Float64Array.from({ length: rank * n }, () => rng.next() - 0.5);
      const { cov } = meanAndCovariance(x, rank, n);
      const s = sqrtPsd(cov, n);
      expect(maxAbsDiff(matMul(s, s, n), cov)).toBeLessThan(1e-12);
      expect(maxAbsDiff(s, transpose(s, n))).toBe(0);
    }
  });
});

describe("meanAndCovariance", () => {
  it("matches a hand computation (unbiased, divided by n − 1)", () => {
    // rows (1, 2), (3, 6), (5, 4): mean (3, 4); deviations (−2, −2), (0, 2), (2, 0)
    const { mean, cov } = meanAndCovariance([1, 2, 3, 6, 5, 4], 3, 2);
    expect([...mean]).toEqual([3, 4]);
    expect([...cov]).toEqual([4, 2, 2, 4]); // [[8, 4], [4, 8]] / 2
  });
});

describe("frechetDistance", () => {
  it("is 0 between a distribution and itself", () => {
    const rng = new Rng(4);
    const x = Float64Array.from({ length: 300 * 16 }, () => rng.next());
    const s = gaussianStats(x, 300, 16);
    expect(frechetDistance(s, gaussianStats(x, 300, 16))).toBeLessThan(1e-9);
  });

  it("is (μ₁ − μ₂)² + (σ₁ − σ₂)² in one dimension", () => {
    expect(frechetDistance(stats([0], Float64Array.from([1])), stats([3], Float64Array.from([4])))).toBeCloseTo(9 + 1, 12);
  });

  it("is ‖μ₁ − μ₂‖² + Σ(√a − √b)² for diagonal covariances, and does not change when both are rotated", () => {
    const a = [4, 1, 9, 0.25, 2];
    const b = [1, 1, 4, 1, 8];
    const ma = [0, 1, 2, 3, 4];
    const mb = [1, 1, 0, 3, 4];
    const diag = (v: number[]) => Float64Array.from({ length: 25 }, (_, k) => (k % 6 === 0 ? v[k / 6]! : 0));
    const want = 1 + 4 + a.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(b[i]!)) ** 2, 0);
    expect(frechetDistance(stats(ma, diag(a)), stats(mb, diag(b)))).toBeCloseTo(want, 10);
    // rotate both Gaussians by the same Q: means Qμ, covariances QΣQᵀ
    const q = randomOrthogonal(5, 17);
    const rot = (m: Float64Array) => matMul(matMul(q, m, 5), transpose(q, 5), 5);
    const rotMean = (m: number[]) => Array.from({ length: 5 }, (_, i) => m.reduce((s, x, j) => s + q[i * 5 + j]! * x, 0));
    expect(frechetDistance(stats(rotMean(ma), rot(diag(a))), stats(rotMean(mb), rot(diag(b))))).toBeCloseTo(want, 9);
  });

  it("is symmetric for covariances that do not commute", () => {
    const a = withEigenvalues([3, 1, 0.5, 2, 0.1, 4], 1);
    const b = withEigenvalues([1, 2, 2, 0.3, 5, 1], 2);
    const m = [0, 0, 1, 0, 0, 0];
    const ab = frechetDistance(stats(m, a), stats([0, 0, 0, 0, 0, 0], b));
    const ba = frechetDistance(stats([0, 0, 0, 0, 0, 0], b), stats(m, a));
    expect(ab).toBeGreaterThan(1);
    expect(Math.abs(ab - ba)).toBeLessThan(1e-10);
  });
});
