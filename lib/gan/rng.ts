/**
 * Seeded pseudo-random numbers for everything in a run that must repeat: batch order, noise, data splits.
 *
 * A run never keeps a generator's state between iterations. Each draw derives a fresh stream from the run's
 * seed and a few integer keys (epoch, iteration, purpose), so a run resumed from a checkpoint at iteration k
 * draws exactly what an uninterrupted run draws at iteration k.
 */

/** Mixes 32-bit integers into one 32-bit seed (murmur3's finaliser over a running hash). */
export function deriveSeed(seed: number, ...keys: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const key of keys) {
    h = Math.imul(h ^ (key >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Purposes used as the first key of {@link deriveSeed}, so streams for different uses never coincide. */
export const Stream = {
  shuffle: 1,
  noise: 2,
  labels: 3,
  split: 4,
  sampleGrid: 5,
  init: 6,
  generate: 7,
} as const;

/** mulberry32: a small, fast generator with a 32-bit state; good enough for shuffles and noise. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fills `out` with uniform values in [low, high). */
  uniform(out: Float32Array, low: number, high: number): Float32Array {
    const span = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + span * this.next();
    return out;
  }

  /** Fills `out` with standard normal values (Box-Muller), scaled by `std`. */
  normal(out: Float32Array, std = 1): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      const u = 1 - this.next();
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u)) * std;
      out[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
    return out;
  }

  /** A permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
}
