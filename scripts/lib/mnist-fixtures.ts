/**
 * 60,000 MNIST-like 28×28 images for the import benchmarks: the 10,000 bundled digits repeated, sorted by label,
 * as (a) a zip with one folder per label of PNGs and (b) a gzipped IDX pair holding the same images in the same
 * order (so both import to the same data set id).
 */
import { encodeIdxImages, encodeIdxLabels } from "../../lib/gan/data/idx";
import { loadBundledMnist } from "../../lib/gan/data/mnist-bundled";
import { encodePng } from "../../lib/gan/image";
import { makeZip } from "../../tests/helpers/zip-writer";

export const SIDE = 28;

export function mnistLikeFixtures(count: number): { zip: Uint8Array; idxImagesGz: Uint8Array; idxLabelsGz: Uint8Array } {
  const pixels = SIDE * SIDE;
  const mnist = loadBundledMnist();
  // The digits as bytes and PNGs, encoded once and repeated to `count` images.
  const pngs: Uint8Array[] = [];
  const bytes = new Uint8Array(count * pixels);
  const labels = new Uint8Array(count);
  for (let i = 0; i < mnist.count; i++) {
    const px = new Uint8Array(pixels);
    const src = mnist.images.subarray(i * pixels, (i + 1) * pixels);
    for (let p = 0; p < pixels; p++) px[p] = Math.round(src[p]! * 255);
    pngs.push(encodePng({ width: SIDE, height: SIDE, channels: 1, data: px }));
  }
  // Image k of the data set is digit order[k] % 10,000: sorted by label, so the zip's sorted paths and the IDX
  // file hold the same images in the same order, and both imports must give the same id.
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => mnist.labels[a % mnist.count]! - mnist.labels[b % mnist.count]! || a - b);
  for (let i = 0; i < count; i++) {
    const j = order[i]! % mnist.count;
    labels[i] = mnist.labels[j]!;
    const src = mnist.images.subarray(j * pixels, (j + 1) * pixels);
    for (let p = 0; p < pixels; p++) bytes[i * pixels + p] = Math.round(src[p]! * 255);
  }
  const zip = makeZip(
    Array.from({ length: count }, (_, i) => ({ name: `mnist/${labels[i]}/${String(i).padStart(5, "0")}.png`, data: pngs[order[i]! % mnist.count]! })),
  );
  return { zip, idxImagesGz: encodeIdxImages(bytes, count, SIDE, SIDE, true), idxLabelsGz: encodeIdxLabels(labels, true) };
}
