/** Deterministic values in [-1, 1) (a small LCG: the tests need variety, not quality). */
export function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let state = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}
