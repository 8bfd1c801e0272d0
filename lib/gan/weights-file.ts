/**
 * TensorFlow.js's weights layout (tf.io.WeightsManifestConfig), shared by checkpoints and the cached evaluator:
 * named float32 tensors concatenated, little-endian, into one .bin file that a manifest group describes in order.
 */

export interface NamedTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: "float32";
}

/** Concatenates `tensors` into one buffer and lists them in order, as a manifest group's `weights`. */
export function packWeights(tensors: NamedTensor[]): { weights: WeightEntry[]; bytes: Uint8Array } {
  const total = tensors.reduce((s, t) => s + t.values.length, 0);
  const all = new Float32Array(total);
  let offset = 0;
  for (const t of tensors) {
    all.set(t.values, offset);
    offset += t.values.length;
  }
  return { weights: tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: "float32" as const })), bytes: new Uint8Array(all.buffer) };
}

/** How many bytes a manifest group's weights take. */
export function weightsByteLength(weights: { shape: number[] }[]): number {
  return weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0) * 4;
}

/**
 * Splits `bytes` into the tensors `weights` lists, or null when the length does not match. The values are views
 * into one aligned copy: Buffer slices may start at any byte offset.
 */
export function unpackWeights(weights: { name: string; shape: number[] }[], bytes: Uint8Array): Map<string, { shape: number[]; values: Float32Array }> | null {
  const need = weightsByteLength(weights);
  if (bytes.length !== need) return null;
  const all = new Float32Array(need / 4);
  new Uint8Array(all.buffer).set(bytes);
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  let offset = 0;
  for (const w of weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    out.set(w.name, { shape: w.shape, values: all.subarray(offset, offset + size) });
    offset += size;
  }
  return out;
}
