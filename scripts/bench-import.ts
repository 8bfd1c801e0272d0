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
import { DatasetStore } from "../lib/gan/data/store";
import { mnistLikeFixtures } from "./lib/mnist-fixtures";

const COUNT = 60_000;

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-bench-import-"));
try {
  const t0 = performance.now();
  const fixtures = mnistLikeFixtures(COUNT);
  const zipPath = path.join(tmp, "mnist-folders.zip");
  writeFileSync(zipPath, fixtures.zip);
  const idxImages = path.join(tmp, "train-images-idx3-ubyte.gz");
  writeFileSync(idxImages, fixtures.idxImagesGz);
  writeFileSync(path.join(tmp, "train-labels-idx1-ubyte.gz"), fixtures.idxLabelsGz);
  process.stderr.write(
    `fixtures written in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${zipPath} (${(statSync(zipPath).size / 2 ** 20).toFixed(1)} MiB), ${idxImages} (${(statSync(idxImages).size / 2 ** 20).toFixed(1)} MiB)\n`,
  );

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
    rows.push({
      format,
      images: first.dataset.count,
      seconds,
      imagesPerSecond: first.dataset.count / seconds,
      secondImportMs,
      reused: second.reused,
      id: first.dataset.id,
    });
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
      results: rows.map((r) => ({
        ...r,
        seconds: Number(r.seconds.toFixed(3)),
        imagesPerSecond: Math.round(r.imagesPerSecond),
        secondImportMs: Number(r.secondImportMs.toFixed(1)),
      })),
    }),
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
