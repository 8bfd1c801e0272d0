/**
 * Where one training iteration spends its time, kernel by kernel (CPU backends, where kernels run synchronously):
 *   npx tsx scripts/profile-step.ts [--backend wasm] [--spec nnc-dcgan-with-label] [--batch 64] [--iters 5]
 * Prints the kernels by total time (median iteration of --iters), then one JSON line. A measurement, not a test.
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { activeBackend, initBackend } from "../lib/gan/backend";
import { median } from "../lib/gan/bench";
import { parseConfig } from "../lib/gan/config";
import { GanModel } from "../lib/gan/model";
import { Rng } from "../lib/gan/rng";
import { BUILTIN_SPECS, type BuiltinSpecName } from "../lib/gan/spec";

const { values } = parseArgs({ options: { backend: { type: "string" }, spec: { type: "string" }, batch: { type: "string" }, iters: { type: "string" } } });
await initBackend(values.backend ?? "wasm");
const spec = (values.spec ?? "nnc-dcgan-with-label") as BuiltinSpecName;
const n = Number(values.batch ?? 64);
const iters = Number(values.iters ?? 5);
const model = new GanModel(BUILTIN_SPECS[spec], 1, parseConfig({}).optimizers);
const [h, w, c] = model.imageShape;
const batch = { images: new Rng(7).uniform(new Float32Array(n * h * w * c), 0, 1), labels: Int32Array.from({ length: n }, (_, i) => i % 10) };
await model.trainStep(batch, 0);
await model.trainStep(batch, 1);

type KernelArgs = { kernelName?: string; inputs?: Record<string, tf.TensorInfo> };
const engine = tf.engine() as unknown as { runKernelFunc: (args: KernelArgs) => unknown };
const run = engine.runKernelFunc.bind(engine);
const perIter: Map<string, { ms: number; calls: number }>[] = [];
let current = new Map<string, { ms: number; calls: number }>();
let depth = 0;
engine.runKernelFunc = (args) => {
  if (depth > 0) return run(args);
  const shapes = Object.values(args.inputs ?? {})
    .map((t) => `[${t.shape.join(",")}]`)
    .join(" ");
  const key = `${args.kernelName ?? "(custom)"} ${shapes}`;
  const t0 = performance.now();
  depth++;
  try {
    return run(args);
  } finally {
    depth--;
    const e = current.get(key) ?? { ms: 0, calls: 0 };
    e.ms += performance.now() - t0;
    e.calls++;
    current.set(key, e);
  }
};
const totals: number[] = [];
for (let i = 0; i < iters; i++) {
  current = new Map();
  const t0 = performance.now();
  await model.trainStep(batch, 10 + i);
  totals.push(performance.now() - t0);
  perIter.push(current);
}
engine.runKernelFunc = run;
const mid = totals.indexOf([...totals].sort((a, b) => a - b)[Math.floor(iters / 2)]!);
const rows = [...perIter[mid]!.entries()].sort((a, b) => b[1].ms - a[1].ms);
const inKernels = rows.reduce((s, [, v]) => s + v.ms, 0);
const byName = new Map<string, number>();
for (const [k, v] of rows) byName.set(k.split(" ")[0]!, (byName.get(k.split(" ")[0]!) ?? 0) + v.ms);
console.log(
  `backend ${activeBackend()?.name} (${activeBackend()?.detail}), ${spec}, batch ${n}: iteration ${median(totals).toFixed(1)} ms (median of ${iters}), in kernels ${inKernels.toFixed(1)} ms`,
);
console.log("\n| kernel | ms | share |\n| --- | --- | --- |");
for (const [k, v] of [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log(`| ${k} | ${v.toFixed(1)} | ${((100 * v) / inKernels).toFixed(1)}% |`);
console.log("\n| kernel and input shapes | calls | ms |\n| --- | --- | --- |");
for (const [k, v] of rows.slice(0, 40)) console.log(`| ${k} | ${v.calls} | ${v.ms.toFixed(1)} |`);
console.log(
  JSON.stringify({
    spec,
    batch: n,
    iterationMs: median(totals),
    kernelMs: inKernels,
    byKernel: Object.fromEntries([...byName].map(([k, v]) => [k, +v.toFixed(2)])),
  }),
);
model.dispose();
