/**
 * npm run bench:import — how fast the data set importer is on 60,000 MNIST-like 28×28 images.
 *
 * Writes the bundled digits (lib/gan/data/mnist-bundled.ts), repeated to 60,000, as (a) a zip with one folder
 * per label of PNGs and (b) a gzipped IDX pair, into a temp folder; imports each into a fresh temp store, then
 * imports it again (the store recognises the source: no decoding). Prints a table and one JSON line.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodeIdxImages, encodeIdxLabels } from "../lib/gan/data/idx";
import { loadBundledMnist } from "../lib/gan/data/mnist-bundled";
import { DatasetStore } from "../lib/gan/data/store";
import { encodePng } from "../lib/gan/image";
import { makeZip } from "../tests/helpers/zip-writer";

const COUNT = 60_000;
const SIDE = 28;
const PIXELS = SIDE * SIDE;

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-bench-import-"));
try {
  const t0 = performance.now();
  const mnist = loadBundledMnist();
  // The digits as bytes and PNGs, encoded once and repeated to COUNT images.
  const pngs: Uint8Array[] = [];
  const bytes = new Uint8Array(COUNT * PIXELS);
  const labels = new Uint8Array(COUNT);
  for (let i = 0; i < mnist.count; i++) {
    const px = new Uint8Array(PIXELS);
    const src = mnist.images.subarray(i * PIXELS, (i + 1) * PIXELS);
    for (let p = 0; p < PIXELS; p++) px[p] = Math.round(src[p]! * 255);
    pngs.push(encodePng({ width: SIDE, height: SIDE, channels: 1, data: px }));
  }
  // Image k of the data set is digit order[k] % 10,000: sorted by label, so the zip's sorted paths and the IDX
  // file hold the same images in the same order, and both imports must give the same id.
  const order = Array.from({ length: COUNT }, (_, i) => i).sort((a, b) => mnist.labels[a % mnist.count]! - mnist.labels[b % mnist.count]! || a - b);
  for (let i = 0; i < COUNT; i++) {
    const j = order[i]! % mnist.count;
    labels[i] = mnist.labels[j]!;
    const src = mnist.images.subarray(j * PIXELS, (j + 1) * PIXELS);
    for (let p = 0; p < PIXELS; p++) bytes[i * PIXELS + p] = Math.round(src[p]! * 255);
  }
  const zipPath = path.join(tmp, "mnist-folders.zip");
  writeFileSync(
    zipPath,
    makeZip(Array.from({ length: COUNT }, (_, i) => ({ name: `mnist/${labels[i]}/${String(i).padStart(5, "0")}.png`, data: pngs[order[i]! % mnist.count]! }))),
  );
  const idxImages = path.join(tmp, "train-images-idx3-ubyte.gz");
  writeFileSync(idxImages, encodeIdxImages(bytes, COUNT, SIDE, SIDE, true));
  writeFileSync(path.join(tmp, "train-labels-idx1-ubyte.gz"), encodeIdxLabels(labels, true));
  process.stderr.write(`fixtures written in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${zipPath} (${(statSync(zipPath).size / 2 ** 20).toFixed(1)} MiB), ${idxImages} (${(statSync(idxImages).size / 2 ** 20).toFixed(1)} MiB)\n`);

  const rows: Array<{ format: string; images: number; seconds: number; imagesPerSecond: number; secondImportMs: number; reused: boolean; id: string }> = [];
  for (const [format, source] of [
    ["folders (zip of PNGs)", zipPath],
    ["idx (gzipped pair)", idxImages],
  ] as const) {
    const store = new DatasetStore(path.join(tmp, `store-${rows.length}`));
    const start = performance.now();
    const first = await store.importPath(source);
    const seconds = (performance.now() - start) / 1000;
    const again = performance.now();
    const second = await store.importPath(source);
    const secondImportMs = performance.now() - again;
    if (first.dataset.count !== COUNT || !second.reused) throw new Error(`unexpected import result for ${format}`);
    rows.push({ format, images: first.dataset.count, seconds, imagesPerSecond: first.dataset.count / seconds, secondImportMs, reused: second.reused, id: first.dataset.id });
  }

  const header = ["format", "images", "seconds", "images/s", "second import ms"];
  const cells = rows.map((r) => [r.format, String(r.images), r.seconds.toFixed(2), Math.round(r.imagesPerSecond).toString(), r.secondImportMs.toFixed(0)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  for (const c of cells) console.log(line(c));
  console.log(
    JSON.stringify({
      node: process.version,
      cpus: os.cpus().length,
      sameId: rows[0]!.id === rows[1]!.id,
      results: rows.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(3)), imagesPerSecond: Math.round(r.imagesPerSecond), secondImportMs: Number(r.secondImportMs.toFixed(1)) })),
    }),
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
