/**
 * Packed for the lent GPU (../shared/gpu/pack.sh scripts/gpu-profile.ts): measures what the GPU training kernels
 * (lib/gan/backends/reductions.ts) change on webgpu against tfjs's own kernels in the same process, then the full
 * table, and checks they agree with the stock kernels on the GPU itself. Run as: GAN_WEBGPU_KERNELS=stock bash .gpu/run.sh
 * (A per-tap matMul Conv2DBackpropFilter was measured here too, 1,354 → 1,153 images/s, and dropped.)
 */
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/gan/backend";
import { registerTwoStageReductions } from "../lib/gan/backends/reductions";
import { benchTable, benchTrain, type BenchResult } from "../lib/gan/bench";
import { Rng } from "../lib/gan/rng";

const out = process.env.OUT ?? "out";
mkdirSync(out, { recursive: true });
const backend = await initBackend("webgpu");
console.log(`backend: ${backend.name} (${backend.detail}), kernels: ${process.env.GAN_WEBGPU_KERNELS ?? "project"}`);
const rows: (BenchResult & { kernels: string })[] = [];
const bench = async (kernels: string, spec: "nnc-dcgan-with-label" | "small-dcgan", batch: number) => {
  const r = { ...(await benchTrain({ spec, batch, iters: 8, warmup: 3, backend: "webgpu" })), kernels };
  rows.push(r);
  console.log(JSON.stringify(r));
};

// Stock kernels first, captured for the agreement check.
const stockSum = tf.getKernel("Sum", "webgpu")!.kernelFunc;
await bench("stock", "nnc-dcgan-with-label", 1024);
registerTwoStageReductions("webgpu");
await bench("+reductions", "nnc-dcgan-with-label", 1024);
for (const b of [64, 256]) await bench("+reductions", "nnc-dcgan-with-label", b);
for (const b of [64, 1024]) await bench("+reductions", "small-dcgan", b);
console.log(benchTable(rows));
console.log(rows.map((r) => `${r.kernels}: ${r.spec} b${r.batch} ${r.imagesPerSec.toFixed(0)} images/s`).join("\n"));

// Agreement on the GPU: a bias-gradient sum at batch 1024.
const rng = new Rng(1);
const x = tf.tensor4d(rng.normal(new Float32Array(1024 * 14 * 14 * 32)), [1024, 14, 14, 32]);
const s1 = tf.sum(x, [0, 1, 2]);
const s2 = tf
  .engine()
  .makeTensorFromTensorInfo(stockSum({ inputs: { x }, backend: tf.engine().backend, attrs: { axis: [0, 1, 2], keepDims: false } as never }) as tf.TensorInfo);
const check = {
  sumMaxAbsDiff: (await tf.max(tf.abs(tf.sub(s1, s2))).data())[0],
  sumMaxAbs: (await tf.max(tf.abs(s2)).data())[0],
};
console.log(JSON.stringify(check));
writeFileSync(path.join(out, "profile.json"), JSON.stringify({ rows, check }, null, 1));
