/**
 * The RuntimeGenerator's noise, one definition for the server (lib/gan/generator.ts) and for a page that draws the
 * images itself (lib/gan/page-generator.ts): z of image `index` for a seed, and the walk between two seeds' z.
 * TensorFlow-free; the same seed gives the same numbers on every machine and in every browser (lib/gan/rng.ts).
 */
import { Rng, Stream, deriveSeed } from "./rng";

export interface NoiseSpec {
  size: number;
  distribution: "uniform" | "normal";
}

/** z for image `index` of `seed`, from the spec's distribution. */
export function zFor(z: NoiseSpec, seed: number, index: number): Float32Array {
  const out = new Float32Array(z.size);
  const rng = new Rng(deriveSeed(seed, Stream.generate, index));
  return z.distribution === "uniform" ? rng.uniform(out, -1, 1) : rng.normal(out);
}

/** `count` images of `seed`, their z side by side. */
export function zsFor(z: NoiseSpec, seed: number, count: number): Float32Array {
  const zs = new Float32Array(count * z.size);
  for (let i = 0; i < count; i++) zs.set(zFor(z, seed, i), i * z.size);
  return zs;
}

/** `steps` z walking from seed A's to seed B's: linear for uniform noise, spherical for normal noise. */
export function interpolationZs(z: NoiseSpec, seedA: number, seedB: number, steps: number): Float32Array {
  const a = zFor(z, seedA, 0);
  const b = zFor(z, seedB, 0);
  const spherical = z.distribution === "normal";
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const omega = Math.acos(Math.min(1, Math.max(-1, a.reduce((s, x, i) => s + x * b[i]!, 0) / (norm(a) * norm(b)))));
  const zs = new Float32Array(steps * z.size);
  for (let k = 0; k < steps; k++) {
    const t = k / (steps - 1);
    let wa = 1 - t;
    let wb = t;
    if (spherical && omega > 1e-4) {
      wa = Math.sin((1 - t) * omega) / Math.sin(omega);
      wb = Math.sin(t * omega) / Math.sin(omega);
    }
    for (let i = 0; i < z.size; i++) zs[k * z.size + i] = wa * a[i]! + wb * b[i]!;
  }
  return zs;
}
