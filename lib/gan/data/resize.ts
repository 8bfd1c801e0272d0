/**
 * Fitting an image into a fixed size without distorting it, for `resize: "fit"` imports.
 *
 * The image is scaled by one factor (the largest that fits both sides), so its aspect ratio is kept up to
 * rounding to whole pixels; each axis is resampled on its own, by area averaging when it shrinks (every source
 * pixel contributes by the share of it an output pixel covers, so thin strokes fade instead of vanishing) and
 * bilinearly when it grows. The scaled image is centred and the rest is filled with the mean of the source's
 * border pixels, per channel, so the padding continues the background (black for MNIST, white for scans).
 *
 * Pure TypeScript.
 */

/** The size an image of h×w gets inside th×tw, keeping its aspect ratio: [height, width], each ≥ 1. */
export function fittedSize(h: number, w: number, th: number, tw: number): [number, number] {
  const s = Math.min(th / h, tw / w);
  return [Math.min(th, Math.max(1, Math.round(h * s))), Math.min(tw, Math.max(1, Math.round(w * s)))];
}

/**
 * A size that keeps the aspect ratio of h×w and fits maxSide×maxSide: h×w itself when it fits already.
 */
export function shrinkToFit(h: number, w: number, maxSide: number): [number, number] {
  if (h <= maxSide && w <= maxSide) return [h, w];
  return fittedSize(h, w, maxSide, maxSide);
}

/**
 * Resamples one axis of a float image. `src` holds `outer` runs of `n` samples, each sample `stride` apart
 * (stride = channels for rows, so channels stay interleaved); the result holds `outer` runs of `m` samples.
 * Layout: index = (o * n + i) * inner + k, for inner = stride values per sample.
 */
function resampleAxis(src: Float32Array, outer: number, n: number, inner: number, m: number): Float32Array {
  const out = new Float32Array(outer * m * inner);
  if (m === n) {
    out.set(src);
    return out;
  }
  if (m < n) {
    // Area average: output i covers source [i*n/m, (i+1)*n/m).
    const scale = n / m;
    for (let i = 0; i < m; i++) {
      const a = i * scale;
      const b = (i + 1) * scale;
      const j0 = Math.floor(a);
      const j1 = Math.min(n, Math.ceil(b));
      for (let j = j0; j < j1; j++) {
        const weight = (Math.min(b, j + 1) - Math.max(a, j)) / scale;
        if (weight <= 0) continue;
        for (let o = 0; o < outer; o++) {
          const s = (o * n + j) * inner;
          const d = (o * m + i) * inner;
          for (let k = 0; k < inner; k++) out[d + k]! += src[s + k]! * weight;
        }
      }
    }
    return out;
  }
  // Bilinear: output i samples the source at (i + 0.5) * n / m - 0.5, clamped to the edge pixels.
  const scale = n / m;
  for (let i = 0; i < m; i++) {
    const x = Math.min(n - 1, Math.max(0, (i + 0.5) * scale - 0.5));
    const j0 = Math.floor(x);
    const j1 = Math.min(n - 1, j0 + 1);
    const t = x - j0;
    for (let o = 0; o < outer; o++) {
      const s0 = (o * n + j0) * inner;
      const s1 = (o * n + j1) * inner;
      const d = (o * m + i) * inner;
      for (let k = 0; k < inner; k++) out[d + k] = src[s0 + k]! * (1 - t) + src[s1 + k]! * t;
    }
  }
  return out;
}

/** Per-channel mean of the pixels on the border of an HWC image (each pixel once), rounded to bytes. */
export function borderMean(src: Uint8Array, h: number, w: number, c: number): number[] {
  const sums = new Array<number>(c).fill(0);
  let count = 0;
  for (let y = 0; y < h; y++) {
    const edgeRow = y === 0 || y === h - 1;
    for (let x = 0; x < w; x += edgeRow || x === w - 1 ? 1 : w - 1) {
      const p = (y * w + x) * c;
      for (let k = 0; k < c; k++) sums[k]! += src[p + k]!;
      count++;
      if (w === 1) break;
    }
  }
  return sums.map((s) => Math.round(s / count));
}

/**
 * Fits an HWC byte image of h×w×c into th×tw×c: scaled by one factor keeping the aspect ratio (area average
 * when shrinking, bilinear when enlarging), centred, padded with the border mean. Returns the new image.
 */
export function fitImage(src: Uint8Array, h: number, w: number, c: number, th: number, tw: number): Uint8Array {
  if (src.length !== h * w * c) throw new RangeError(`${src.length} bytes do not match ${h}x${w}x${c}`);
  const [sh, sw] = fittedSize(h, w, th, tw);
  const fill = borderMean(src, h, w, c);
  const out = new Uint8Array(th * tw * c);
  for (let p = 0; p < th * tw; p++) for (let k = 0; k < c; k++) out[p * c + k] = fill[k]!;
  const f = Float32Array.from(src);
  // [h, w, c] -> [h, sw, c] -> [sh, sw, c]
  const rows = resampleAxis(f, h, w, c, sw);
  const scaled = resampleAxis(rows, 1, h, sw * c, sh);
  const y0 = Math.floor((th - sh) / 2);
  const x0 = Math.floor((tw - sw) / 2);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      for (let k = 0; k < c; k++) {
        const v = scaled[(y * sw + x) * c + k]!;
        out[((y0 + y) * tw + x0 + x) * c + k] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
      }
    }
  }
  return out;
}
