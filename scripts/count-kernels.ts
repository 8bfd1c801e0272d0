/**
 * Counts the TensorFlow.js kernels one training iteration dispatches, by kernel name:
 *   npx tsx scripts/count-kernels.ts [--backend wasm] [--spec nnc-dcgan-with-label] [--batch 8]
 * On GPU backends each kernel costs CPU time to encode and dispatch, so this count bounds small-batch speed.
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/gan/backend";
import { parseConfig } from "../lib/gan/config";
import { GanModel } from "../lib/gan/model";
import { BUILTIN_SPECS, type BuiltinSpecName } from "../lib/gan/spec";

const { values } = parseArgs({ options: { backend: { type: "string" }, spec: { type: "string" }, batch: { type: "string" } } });
await initBackend(values.backend ?? "wasm");
const spec = (values.spec ?? "nnc-dcgan-with-label") as BuiltinSpecName;
const n = Number(values.batch ?? 8);
const model = new GanModel(BUILTIN_SPECS[spec], 1, parseConfig({}).optimizers);
const batch = { images: new Float32Array(n * 784).fill(0.5), labels: Int32Array.from({ length: n }, (_, i) => i % 10) };
await model.trainStep(batch, 0);

const engine = tf.engine() as unknown as { runKernelFunc: (args: { kernelName?: string }) => unknown };
const run = engine.runKernelFunc.bind(engine);
const counts = new Map<string, number>();
engine.runKernelFunc = (args) => {
  const name = args.kernelName ?? "(custom)";
  counts.set(name, (counts.get(name) ?? 0) + 1);
  return run(args);
};
await model.trainStep(batch, 1);
engine.runKernelFunc = run;
const total = [...counts.values()].reduce((a, b) => a + b, 0);
const rows = [...counts.entries()].sort((a, b) => b[1] - a[1]);
console.log("| kernel | calls per iteration |\n| --- | --- |");
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
console.log(JSON.stringify({ spec, batch: n, kernelsPerIteration: total, identity: counts.get("Identity") ?? 0 }));
model.dispose();
