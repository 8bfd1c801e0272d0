/**
 * The dense layers' matrix products as training runs them (the weights new at every call), on the wasm backend:
 * XNNPACK direct (it packs W anew), XNNPACK as (Wᵀ·xᵀ)ᵀ (it packs the smaller xᵀ), and OpenBLAS (native module).
 *   npx tsx scripts/bench-products.ts        (a table of medians of 9, then one JSON line)
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/gan/backend";
import { median } from "../lib/gan/bench";
import { setWasmKernelStrategy } from "../lib/gan/backends/wasm-kernels";

const backend = await initBackend("wasm");
console.log(`backend: ${backend.detail}`);
const ways = {
  "XNNPACK, direct": { engine: "xnnpack", packCost: 0 },
  "XNNPACK, smaller operand packed": { engine: "xnnpack", packCost: 4 },
  OpenBLAS: { engine: "native", packCost: 4 },
} as const;
const rows: { product: string; way: string; ms: number; gflops: number }[] = [];
for (const [m, k, n] of [
  [64, 3146, 512],
  [64, 522, 3136],
] as const) {
  const x = tf.randomNormal([m, k]) as tf.Tensor2D;
  const w = tf.variable(tf.randomNormal([k, n]));
  for (const [way, strategy] of Object.entries(ways)) {
    setWasmKernelStrategy(strategy);
    const times: number[] = [];
    for (let r = 0; r < 9; r++) {
      w.assign(tf.tidy(() => tf.mul(w, 1))); // new weights, as after every Adam step
      const t0 = performance.now();
      const y = tf.matMul(x, w as unknown as tf.Tensor2D);
      times.push(performance.now() - t0);
      y.dispose();
    }
    const ms = median(times);
    rows.push({ product: `[${m},${k}]·[${k},${n}]`, way, ms: +ms.toFixed(2), gflops: +((2 * m * k * n) / ms / 1e6).toFixed(1) });
  }
  tf.dispose([x, w]);
}
console.log("| product | way | ms (median of 9) | GF/s |\n| --- | --- | --- | --- |");
for (const r of rows) console.log(`| ${r.product} | ${r.way} | ${r.ms} | ${r.gflops} |`);
console.log(JSON.stringify({ date: new Date().toISOString().slice(0, 10), rows }));
process.exit(0);
