/**
 * The lent-GPU check, packed by shared/gpu/pack.sh (the GPU machine has no Node and no npm):
 *   0. kernels per training iteration on the backend (NNC spec, batch 8), by name;
 *   1. the training benchmark on webgpu (NNC spec at batch 64/256/1024, small DCGAN at 64/1024);
 *   2. a real training run of the NNC spec on the bundled digits (exported beforehand by
 *      `npx tsx scripts/export-mnist-u8.ts .gpu/mnist-u8.bin`), writing its sample grids to $OUT.
 * Usage on the GPU machine: bash .gpu/run.sh [EPOCHS]
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { initBackend } from "../lib/gan/backend";
import { benchTable, benchTrain, type BenchResult } from "../lib/gan/bench";
import type { ImageDataset } from "../lib/gan/data/dataset";
import { parseConfig } from "../lib/gan/config";
import { GanModel } from "../lib/gan/model";
import { BUILTIN_SPECS } from "../lib/gan/spec";
import { Trainer } from "../lib/gan/trainer";
import { countKernels } from "./lib/count-kernels";

const out = process.env.OUT ?? "out";
mkdirSync(out, { recursive: true });
const epochs = Number(process.argv[2] ?? 5);
const backend = await initBackend(process.env.GAN_BACKEND ?? "webgpu");
console.log(`backend: ${backend.name} (${backend.detail})`);

{
  const model = new GanModel(BUILTIN_SPECS["nnc-dcgan-with-label"], 1, parseConfig({}).optimizers);
  const { total, byName } = await countKernels(model, 8);
  model.dispose();
  const top = [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
  console.log(JSON.stringify({ kernelsPerIteration: total, top: Object.fromEntries(top) }));
  writeFileSync(path.join(out, "kernels.json"), JSON.stringify({ kernelsPerIteration: total, byName: Object.fromEntries(byName) }, null, 1));
}

const rows: BenchResult[] = [];
for (const [spec, batch] of [
  ["nnc-dcgan-with-label", 64],
  ["nnc-dcgan-with-label", 256],
  ["nnc-dcgan-with-label", 1024],
  ["small-dcgan", 64],
  ["small-dcgan", 1024],
] as const) {
  rows.push(await benchTrain({ spec, batch, iters: 10, warmup: 3, backend: backend.name }));
  console.log(JSON.stringify(rows.at(-1)));
}
console.log(benchTable(rows));
writeFileSync(path.join(out, "bench.json"), JSON.stringify(rows, null, 1));

// The bundled digits as exported: uint32 count, then count labels (uint8), then count×784 pixels (uint8).
const bin = readFileSync(new URL("./mnist-u8.bin", import.meta.url));
const count = bin.readUInt32LE(0);
const labels = Int32Array.from(bin.subarray(4, 4 + count));
const pixels = bin.subarray(4 + count, 4 + count + count * 784);
const images = new Float32Array(count * 784);
for (let i = 0; i < images.length; i++) images[i] = pixels[i]! / 255;
const dataset: ImageDataset = { name: "mnist-bundled", height: 28, width: 28, channels: 1, numLabels: 10, count, images, labels };

const trainer = await Trainer.create({ config: { maxEpoch: epochs, batchSize: 64 }, dataset, outDir: path.join(out, "run") });
const t0 = performance.now();
trainer.on((e) => {
  if (e.type === "sampleGrid") writeFileSync(path.join(out, `grid-epoch-${e.epoch}.png`), e.png);
  if (e.type === "epoch") console.log(`epoch ${e.epoch}: ${e.seconds.toFixed(1)} s, ${e.imagesPerSec.toFixed(0)} images/s`);
  if (e.type === "losses" && e.iteration % 100 === 0) console.log(`iteration ${e.iteration}: ${JSON.stringify(e.losses)}`);
  if (e.type === "error") console.log(`error: ${e.message}`);
});
const status = await trainer.start();
console.log(`${status} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
