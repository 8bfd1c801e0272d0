/**
 * Benchmarks the wasm training kernels (lib/gan/backends/wasm-kernels.ts) against the stock wasm kernels, at the
 * reference network's shapes (NNC "DCGAN with label"), batch 64, NHWC:
 *
 *   npx tsx scripts/bench-wasm-kernels.ts [--batch 64] [--reps 5]
 *
 * Each timing is the median (and the minimum) of `reps` runs after one warm-up, each run synchronised by reading
 * its result back with dataSync. GFLOP/s counts the true convolution's 2*n*oh*ow*kh*kw*ci*co, whatever the
 * kernel multiplies. The wasm backend runs one thread in Node, so other processes on the machine slow it down:
 * the load average is printed with the table, and the minimum is the better figure on a busy machine.
 */
import os from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import "../lib/gan/tf-gradients";
import { registerWasmTrainingKernels, setWasmKernelStrategy, stockWasmKernels, wasmTrainingKernelFuncs } from "../lib/gan/backends/wasm-kernels";

type Shape4 = [number, number, number, number];

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const raw = i >= 0 ? process.argv[i + 1] : undefined;
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} expects a positive integer, got ${raw}`);
  return value;
}

const BATCH = argValue("--batch", 64);
const REPS = argValue("--reps", 5);

/** Median and minimum of `REPS` timed runs after one warm-up; `run` must synchronise (dataSync) itself. */
function time(run: () => void): { median: number; min: number } {
  run();
  const ms: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)] ?? Number.NaN, min: ms[0] ?? Number.NaN };
}

/** Runs a kernel on the current backend, reads its result back and frees it. */
function runSynced(kernelName: string, inputs: tf.NamedTensorMap, attrs: object): void {
  const out = tf.engine().runKernel(kernelName, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
  out.dataSync();
  out.dispose();
}

type Swappable = "Conv2DBackpropInput" | "BatchMatMul";

/** Registers either the stock kernel or this module's for wasm. */
function useKernel(kernelName: Swappable, which: "stock" | "ours"): void {
  const stock = stockWasmKernels[kernelName];
  const ours = wasmTrainingKernelFuncs[kernelName];
  if (stock === undefined || ours === undefined) throw new Error(`no stock or no replacement ${kernelName}`);
  const wanted = which === "stock" ? stock : { ...stock, kernelFunc: ours };
  if (tf.getKernel(kernelName, "wasm")?.kernelFunc === wanted.kernelFunc) return;
  tf.unregisterKernel(kernelName, "wasm");
  tf.registerKernel(wanted);
}

function useKernels(which: "stock" | "ours"): void {
  useKernel("Conv2DBackpropInput", which);
  useKernel("BatchMatMul", which);
}

const fmt = (ms: number, gflop: number) => `${ms.toFixed(1).padStart(7)} ms ${((gflop / ms) * 1e3).toFixed(1).padStart(5)} GF/s`;

interface Layer {
  name: string;
  /** The forward convolution: x [n, h, w, ci] * filter [kh, kw, ci, co] -> [n, oh, ow, co]. */
  x: Shape4;
  filter: Shape4;
  /** For a transposed convolution, x is its output and the forward conv's output is its input. */
  transposed: boolean;
}

// Reference network, NHWC. A transposed conv 7x7x64 -> 14x14x32 with filter [6, 6, 32, 64] is the input gradient
// of the forward conv 14x14x32 -> 7x7x64 with that filter, so every layer is described by its forward conv.
const LAYERS: Layer[] = [
  { name: "G Deconvolution   7x7x64 -> 14x14x32, 6x6 s2", x: [BATCH, 14, 14, 32], filter: [6, 6, 32, 64], transposed: true },
  { name: "G Deconvolution_2 14x14x32 -> 28x28x1, 6x6 s2", x: [BATCH, 28, 28, 1], filter: [6, 6, 1, 32], transposed: true },
  { name: "D Convolution_3   28x28x1 -> 14x14x32, 5x5 s2", x: [BATCH, 28, 28, 1], filter: [5, 5, 1, 32], transposed: false },
  { name: "D Convolution_4   14x14x32 -> 7x7x64, 5x5 s2", x: [BATCH, 14, 14, 32], filter: [5, 5, 32, 64], transposed: false },
];

function randomNormal(shape: number[]): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, "float32", 7);
}

async function kernelTable(): Promise<void> {
  console.log(`\nKernels at batch ${BATCH} (median of ${REPS}; min in brackets), wasm backend, 1 thread:`);
  const header = `${"layer / kernel".padEnd(62)} ${"stock wasm".padEnd(26)} ${"this module".padEnd(26)} speed-up`;
  console.log(header);
  console.log("-".repeat(header.length + 10));
  for (const layer of LAYERS) {
    const info = tf.backend_util.computeConv2DInfo(layer.x, layer.filter, 2, 1, "same");
    const [kh, kw, ci, co] = layer.filter;
    const gflop = (2 * BATCH * info.outHeight * info.outWidth * kh * kw * ci * co) / 1e9;
    const x = randomNormal(layer.x);
    const filter = randomNormal(layer.filter);
    const dy = randomNormal(info.outShape);
    const common = { strides: 2, pad: "same", dataFormat: "NHWC" };
    const forward = () => runSynced("Conv2D", { x, filter }, { ...common, dilations: 1 });
    const inputGradient = () => runSynced("Conv2DBackpropInput", { dy, filter }, { ...common, inputShape: layer.x });
    const filterGradient = () => runSynced("Conv2DBackpropFilter", { x, dy }, { ...common, filterShape: layer.filter });
    // [label, what the stock backend has, run]
    type Row = [string, "replaced" | "missing" | "unchanged", () => void];
    const rows: Row[] = layer.transposed
      ? [
          ["conv2dTranspose forward   (Conv2DBackpropInput)", "replaced", inputGradient],
          ["conv2dTranspose d/dinput  (Conv2D)", "unchanged", forward],
          ["conv2dTranspose d/dfilter (Conv2DBackpropFilter, x/dy swapped)", "missing", filterGradient],
        ]
      : [
          ["conv2d forward            (Conv2D)", "unchanged", forward],
          ["conv2d d/dinput           (Conv2DBackpropInput)", "replaced", inputGradient],
          ["conv2d d/dfilter          (Conv2DBackpropFilter)", "missing", filterGradient],
        ];
    console.log(layer.name);
    for (const [label, stockHas, run] of rows) {
      let stockText = stockHas === "missing" ? "(missing: throws)" : "(same XNNPACK kernel)";
      let speedUp = "";
      useKernels("ours");
      const ours = time(run);
      if (stockHas === "replaced") {
        useKernels("stock");
        const stock = time(run);
        useKernels("ours");
        stockText = `${fmt(stock.median, gflop)} [${stock.min.toFixed(1)}]`;
        speedUp = `${(stock.median / ours.median).toFixed(1)}x`;
      }
      console.log(`  ${label.padEnd(60)} ${stockText.padEnd(26)} ${`${fmt(ours.median, gflop)} [${ours.min.toFixed(1)}]`.padEnd(26)} ${speedUp}`);
    }
    // The input gradient's two decompositions, to show what 'auto' chose from.
    const paths: string[] = [];
    for (const inputGradientPath of ["fused", "split"] as const) {
      setWasmKernelStrategy({ inputGradient: inputGradientPath });
      paths.push(`${inputGradientPath} ${fmt(time(inputGradient).median, gflop).trim()}`);
    }
    setWasmKernelStrategy({ inputGradient: "auto" });
    console.log(`  ${"  Conv2DBackpropInput paths:".padEnd(60)} ${paths.join(" | ")}`);
    tf.dispose([x, filter, dy]);
  }
}

/** The reference network's big dense layers: forward, d/dx = dy W^T and d/dW = x^T dy (tf.matMul's gradient). */
function denseTable(): void {
  console.log(`\nDense layers at batch ${BATCH} (BatchMatMul; median of ${REPS}; min in brackets):`);
  const layers: [string, number, number][] = [
    ["G Affine_2  522 -> 3136", 512 + 10, 64 * 7 * 7],
    ["D Affine_3  3146 -> 512", 64 * 7 * 7 + 10, 512],
  ];
  for (const [name, inputs, units] of layers) {
    const gflop = (2 * BATCH * inputs * units) / 1e9;
    const x = randomNormal([BATCH, inputs]);
    const w = randomNormal([inputs, units]);
    const dy = randomNormal([BATCH, units]);
    const product = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean) => () =>
      runSynced("BatchMatMul", { a, b }, { transposeA, transposeB });
    console.log(name);
    for (const [label, run] of [
      ["forward   x W     (no transpose: stock path)", product(x, w, false, false)],
      ["d/dx      dy W^T  (transposeB)", product(dy, w, false, true)],
      ["d/dW      x^T dy  (transposeA)", product(x, dy, true, false)],
    ] as const) {
      useKernels("stock");
      const stock = time(run);
      useKernels("ours");
      const ours = time(run);
      console.log(
        `  ${label.padEnd(60)} ${`${fmt(stock.median, gflop)} [${stock.min.toFixed(1)}]`.padEnd(26)} ` +
          `${`${fmt(ours.median, gflop)} [${ours.min.toFixed(1)}]`.padEnd(26)} ${(stock.median / ours.median).toFixed(1)}x`,
      );
    }
    tf.dispose([x, w, dy]);
  }
}

/**
 * Forward + backward of the reference network's four conv layers (with their activations), as one tf.grads:
 * z [n, 7, 7, 64] -> deconv 6x6 s2 -> relu -> deconv 6x6 s2 -> sigmoid -> conv 5x5 s2 -> leakyRelu -> conv 5x5 s2
 * -> mean of squares; gradients with respect to z and all four filters.
 */
function endToEnd(): void {
  const z = randomNormal([BATCH, 7, 7, 64]);
  const filters = [
    [6, 6, 32, 64],
    [6, 6, 1, 32],
    [5, 5, 1, 32],
    [5, 5, 32, 64],
  ].map((s) => tf.mul(randomNormal(s), 0.05));
  const loss = (zIn: tf.Tensor, g1: tf.Tensor, g2: tf.Tensor, d1: tf.Tensor, d2: tf.Tensor) => {
    const h = tf.relu(tf.conv2dTranspose(zIn as tf.Tensor4D, g1 as tf.Tensor4D, [BATCH, 14, 14, 32], 2, "same"));
    const image = tf.sigmoid(tf.conv2dTranspose(h, g2 as tf.Tensor4D, [BATCH, 28, 28, 1], 2, "same"));
    const f = tf.leakyRelu(tf.conv2d(image, d1 as tf.Tensor4D, 2, "same"), 0.2);
    return tf.mean(tf.square(tf.conv2d(f, d2 as tf.Tensor4D, 2, "same")));
  };
  const step = () => {
    const grads = tf.tidy(() => tf.grads(loss)([z, ...filters]));
    for (const g of grads) g.dataSync();
    tf.dispose(grads);
  };
  console.log(`\nForward + backward of the 4 conv layers (z -> G -> D -> loss), batch ${BATCH}, median of ${REPS} [min]:`);
  useKernels("stock");
  const stock = time(step);
  console.log(
    `  stock kernels + this module's Conv2DBackpropFilter:                ${stock.median.toFixed(0).padStart(5)} ms [${stock.min.toFixed(0)}]  ${((BATCH / stock.median) * 1e3).toFixed(1)} images/s`,
  );
  useKernels("ours");
  const ours = time(step);
  console.log(
    `  all of this module's kernels:                                    ${ours.median.toFixed(0).padStart(5)} ms [${ours.min.toFixed(0)}]  ${((BATCH / ours.median) * 1e3).toFixed(1)} images/s  (${(stock.median / ours.median).toFixed(1)}x)`,
  );
  console.log("  (the stock wasm backend alone cannot run this step: it has no Conv2DBackpropFilter kernel)");
  tf.dispose([z, ...filters]);
}

async function main(): Promise<void> {
  await tf.setBackend("wasm"); // runs the stock kernels' set-up, the stock Conv2DBackpropInput's included
  for (const config of Object.values(stockWasmKernels)) config?.setupFunc?.(tf.backend());
  registerWasmTrainingKernels();
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
  console.log(`tfjs ${tf.version_core}, backend ${tf.getBackend()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), load average ${load()}`);
  await kernelTable();
  denseTable();
  endToEnd();
  console.log(`\nload average at the end: ${load()}`);
}

await main();
