/**
 * Small dense linear algebra in plain JavaScript on Float64Array (row-major n×n matrices), for the Fréchet
 * distance between two feature distributions: means, covariances, a symmetric eigen-decomposition (cyclic
 * Jacobi) and the square root of a positive semi-definite matrix. Sizes here are the evaluator's feature size
 * (64), where Jacobi takes a few milliseconds and is accurate to rounding.
 */

/** A symmetric matrix's eigenvalues and eigenvectors: A = V · diag(values) · Vᵀ, V's columns the vectors. */
export interface Eigen {
  values: Float64Array;
  /** n×n, row-major; column j is the unit eigenvector of values[j]. */
  vectors: Float64Array;
}

/**
 * Eigen-decomposition of the symmetric n×n matrix `a` by cyclic Jacobi rotations: sweeps over every
 * off-diagonal pair, each rotation zeroing one element, until the off-diagonal mass is below `tolerance` times
 * the matrix's (Frobenius) mass or `maxSweeps` ran. `a` is not modified. Only the upper triangle's symmetry is
 * assumed, not checked: pass (A + Aᵀ)/2 when in doubt.
 */
export function symmetricEigen(a: Float64Array, n: number, opts: { tolerance?: number; maxSweeps?: number } = {}): Eigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: ${a.length} values for a ${n}×${n} matrix`);
  const tolerance = opts.tolerance ?? 1e-24;
  const maxSweeps = opts.maxSweeps ?? 100;
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += m[i]! * m[i]!;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += 2 * m[p * n + q]! * m[p * n + q]!;
    if (off <= tolerance * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        const app = m[p * n + p]!;
        const aqq = m[q * n + q]!;
        // The rotation J (c at pp and qq, s at pq, −s at qp) with (JᵀAJ)_pq = 0: t = tan of its angle, the
        // smaller root of t² + 2θt − 1 = 0.
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← A·J (columns p, q), then A ← Jᵀ·A (rows p, q); V ← V·J.
        for (let k = 0; k < n; k++) {
          const kp = m[k * n + p]!;
          const kq = m[k * n + q]!;
          m[k * n + p] = c * kp - s * kq;
          m[k * n + q] = s * kp + c * kq;
        }
        for (let k = 0; k < n; k++) {
          const pk = m[p * n + k]!;
          const qk = m[q * n + k]!;
          m[p * n + k] = c * pk - s * qk;
          m[q * n + k] = s * pk + c * qk;
        }
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const kp = v[k * n + p]!;
          const kq = v[k * n + q]!;
          v[k * n + p] = c * kp - s * kq;
          v[k * n + q] = s * kp + c * kq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = m[i * n + i]!;
  return { values, vectors: v };
}

/** V · diag(f(values)) · Vᵀ for a symmetric matrix's eigen-decomposition. */
export function fromEigen(e: Eigen, n: number, f: (value: number) => number): Float64Array {
  const d = Array.from(e.values, f);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += e.vectors[i * n + k]! * d[k]! * e.vectors[j * n + k]!;
      out[i * n + j] = sum;
      out[j * n + i] = sum;
    }
  }
  return out;
}

/**
 * The square root of a symmetric positive semi-definite matrix (the PSD S with S·S = A). Eigenvalues below 0,
 * which only rounding produces for a covariance, count as 0.
 */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  return fromEigen(symmetricEigen(a, n), n, (x) => Math.sqrt(Math.max(0, x)));
}

/** a·b for n×n matrices. */
export function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + aik * b[k * n + j]!;
    }
  }
  return out;
}

/** The mean (d) and the unbiased covariance (d×d, divided by count − 1) of `count` rows of `d` features. */
export function meanAndCovariance(x: ArrayLike<number>, count: number, d: number): { mean: Float64Array; cov: Float64Array } {
  if (x.length !== count * d) throw new RangeError(`meanAndCovariance: ${x.length} values for ${count} rows of ${d}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < count; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / Math.max(1, count);
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j]! - mean[j]!;
    for (let a = 0; a < d; a++) {
      const ra = row[a]!;
      if (ra === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] = cov[a * d + b]! + ra * row[b]!;
    }
  }
  const div = Math.max(1, count - 1);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const c = cov[a * d + b]! / div;
      cov[a * d + b] = c;
      cov[b * d + a] = c;
    }
  }
  return { mean, cov };
}

/** A feature distribution's Gaussian summary, with the square root of its covariance made once. */
export interface GaussianStats {
  d: number;
  mean: Float64Array;
  cov: Float64Array;
  /** cov^½, computed when first needed by {@link frechetDistance}. */
  covSqrt?: Float64Array;
}

export function gaussianStats(x: ArrayLike<number>, count: number, d: number): GaussianStats {
  return { d, ...meanAndCovariance(x, count, d) };
}

/**
 * The Fréchet (2-Wasserstein) distance between the Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂):
 *   ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½
 * (the last trace equals tr (Σ₁Σ₂)^½, computed here from symmetric matrices only, so one symmetric
 * eigen-decomposition gives it; Σ₁^½ is cached on `a`). Never negative: rounding below 0 returns 0.
 */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  const d = a.d;
  if (b.d !== d) throw new RangeError(`frechetDistance: ${a.d} and ${b.d} features`);
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;
  let traces = 0;
  for (let i = 0; i < d; i++) traces += a.cov[i * d + i]! + b.cov[i * d + i]!;
  a.covSqrt ??= sqrtPsd(a.cov, d);
  const inner = matMul(matMul(a.covSqrt, b.cov, d), a.covSqrt, d);
  // symmetrise away rounding before the eigen-decomposition
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const s = (inner[i * d + j]! + inner[j * d + i]!) / 2;
      inner[i * d + j] = s;
      inner[j * d + i] = s;
    }
  }
  const { values } = symmetricEigen(inner, d);
  let traceSqrt = 0;
  for (const v of values) traceSqrt += Math.sqrt(Math.max(0, v));
  return Math.max(0, meanTerm + traces - 2 * traceSqrt);
}
