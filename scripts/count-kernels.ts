/**
 * Counts the TensorFlow.js kernels one training iteration dispatches, by kernel name:
 *   npx tsx scripts/count-kernels.ts [--backend wasm] [--spec nnc-dcgan-with-label] [--batch 8]
 * On GPU backends each kernel costs CPU time to encode and dispatch, so this count bounds small-batch speed.
 */
import { parseArgs } from "node:util";
import { initBackend } from "../lib/gan/backend";
import { parseConfig } from "../lib/gan/config";
import { GanModel } from "../lib/gan/model";
import { BUILTIN_SPECS, type BuiltinSpecName } from "../lib/gan/spec";
import { countKernels } from "./lib/count-kernels";

const { values } = parseArgs({ options: { backend: { type: "string" }, spec: { type: "string" }, batch: { type: "string" } } });
await initBackend(values.backend ?? "wasm");
const spec = (values.spec ?? "nnc-dcgan-with-label") as BuiltinSpecName;
const n = Number(values.batch ?? 8);
const model = new GanModel(BUILTIN_SPECS[spec], 1, parseConfig({}).optimizers);
const { total, byName: counts } = await countKernels(model, n);
const rows = [...counts.entries()].sort((a, b) => b[1] - a[1]);
console.log("| kernel | calls per iteration |\n| --- | --- |");
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
console.log(JSON.stringify({ spec, batch: n, kernelsPerIteration: total, identity: counts.get("Identity") ?? 0 }));
model.dispose();
