/**
 * Trains a few iterations on the wasm backend and prints one JSON line: the backend's detail, the losses and a
 * fingerprint of every parameter. tests/integration/wasm-threads.test.ts runs it with GAN_WASM_THREADS=1 and 2.
 *   node --import tsx tests/helpers/wasm-train-child.ts SPEC BATCH ITERATIONS
 */
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/gan/backend";
import { parseConfig } from "../../lib/gan/config";
import { GanModel } from "../../lib/gan/model";
import { Rng } from "../../lib/gan/rng";
import { BUILTIN_SPECS, type BuiltinSpecName } from "../../lib/gan/spec";

const [spec = "small-dcgan", batchArg = "8", itersArg = "3"] = process.argv.slice(2);
const backend = await initBackend("wasm");
const model = new GanModel(BUILTIN_SPECS[spec as BuiltinSpecName], 5, parseConfig({}).optimizers);
const [h, w, c] = model.imageShape;
const n = Number(batchArg);
const batch = { images: new Rng(3).uniform(new Float32Array(n * h * w * c), 0, 1), labels: Int32Array.from({ length: n }, (_, i) => i % 10) };
const losses = [];
for (let i = 0; i < Number(itersArg); i++) losses.push(await model.trainStep(batch, i));
const hash = createHash("sha256");
for (const [key, p] of [...model.store.params.entries()].sort(([a], [b]) => a.localeCompare(b))) {
  hash.update(key);
  hash.update(Buffer.from((await p.variable.data()).buffer));
}
console.log(JSON.stringify({ detail: backend.detail, losses, weights: hash.digest("hex"), tensors: tf.memory().numTensors }));
model.dispose();
