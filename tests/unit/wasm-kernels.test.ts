/**
 * The wasm training kernels (lib/gan/backends/wasm-kernels.ts) against the cpu backend, which is the reference:
 * the raw kernels over a table of shapes and every decomposition path, whole gradients through tf.grads, the
 * other kernels a conv GAN's training needs on wasm, error messages for unsupported attrs, and leaks.
 *
 * Inputs are plain Float32Arrays, turned into tensors on each backend in turn (tensors belong to one backend).
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "../../lib/gan/tf-gradients";
import { registerWasmTrainingKernels, setWasmKernelStrategy, stockWasmKernels, wasmTrainingKernelFuncs } from "../../lib/gan/backends/wasm-kernels";
import type { WasmKernelStrategy } from "../../lib/gan/backends/wasm-kernels";
import { values } from "../helpers/values";

type Shape4 = [number, number, number, number];
type Pad = "same" | "valid" | number | [[number, number], [number, number], [number, number], [number, number]];
type BackendName = "cpu" | "wasm";

interface Result {
  shape: number[];
  data: Float32Array;
}

/** Runs f on one backend and copies its outputs out (disposing every tensor it made). */
async function on(backend: BackendName, f: () => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  const results = list.map((t) => ({ shape: t.shape.slice(), data: Float32Array.from(t.dataSync()) }));
  tf.dispose(list);
  return results;
}

/** Max |a - b| over max(1, max |a|): the tolerance is relative to the magnitude of the reference. */
function relativeError(reference: Result, actual: Result): number {
  expect(actual.shape).toEqual(reference.shape);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < reference.data.length; i++) {
    const r = reference.data[i] ?? 0;
    diff = Math.max(diff, Math.abs(r - (actual.data[i] ?? Number.NaN)));
    scale = Math.max(scale, Math.abs(r));
  }
  return Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff / scale;
}

async function expectSameOnBothBackends(f: () => tf.Tensor | tf.Tensor[], tolerance = 1e-4): Promise<void> {
  const reference = await on("cpu", f);
  const actual = await on("wasm", f);
  expect(actual.length).toBe(reference.length);
  reference.forEach((r, i) => {
    const a = actual[i];
    expect(a).toBeDefined();
    if (a !== undefined) expect(relativeError(r, a)).toBeLessThanOrEqual(tolerance);
  });
}

/** One convolution layer of the table: x [n, h, w, ci] -> [n, oh, ow, co] with filter [kh, kw, ci, co]. */
interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number | [number, number];
  stride: number | [number, number];
  pad: Pad;
}

function describeCase(c: ConvCase): string {
  return `x [${c.n},${c.h},${c.w},${c.ci}] -> ${c.co} ch, k ${String(c.k)}, s ${String(c.stride)}, ` + `pad ${JSON.stringify(c.pad)}`;
}

function geometry(c: ConvCase): { xShape: Shape4; filterShape: Shape4; dyShape: Shape4 } {
  const [kh, kw] = typeof c.k === "number" ? [c.k, c.k] : c.k;
  const xShape: Shape4 = [c.n, c.h, c.w, c.ci];
  const filterShape: Shape4 = [kh, kw, c.ci, c.co];
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.stride, 1, c.pad);
  return { xShape, filterShape, dyShape: [c.n, info.outHeight, info.outWidth, c.co] };
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// Sizes 7 / 14 / 28 and odd 9, batch 1 and 4, channels 1 / 3 / 11 / 42 / 74, kernels 4 / 5 / 6, strides 1 / 2,
// 'same' / 'valid', plus explicit and numeric padding and unequal strides. The first four rows are the
// reference network's layers at batch 4 (NNC "DCGAN with label").
const CASES: ConvCase[] = [
  { n: 4, h: 14, w: 14, ci: 32, co: 64, k: 6, stride: 2, pad: "same" }, // G deconv 7 -> 14 (as its forward conv)
  { n: 4, h: 28, w: 28, ci: 1, co: 32, k: 6, stride: 2, pad: "same" }, // G deconv 14 -> 28
  { n: 4, h: 28, w: 28, ci: 1, co: 32, k: 5, stride: 2, pad: "same" }, // D conv 28 -> 14
  { n: 4, h: 14, w: 14, ci: 32, co: 64, k: 5, stride: 2, pad: "same" }, // D conv 14 -> 7
  { n: 1, h: 14, w: 14, ci: 64, co: 128, k: 4, stride: 2, pad: "same" }, // small DCGAN conv 14 -> 7
  { n: 1, h: 7, w: 7, ci: 3, co: 11, k: 4, stride: 2, pad: "same" },
  { n: 4, h: 7, w: 7, ci: 42, co: 3, k: 5, stride: 1, pad: "same" },
  { n: 1, h: 7, w: 7, ci: 74, co: 11, k: 6, stride: 2, pad: "valid" },
  { n: 4, h: 9, w: 9, ci: 11, co: 42, k: 5, stride: 2, pad: "same" },
  { n: 1, h: 9, w: 9, ci: 3, co: 1, k: 4, stride: 2, pad: "valid" },
  { n: 4, h: 9, w: 9, ci: 1, co: 11, k: 6, stride: 1, pad: "valid" },
  { n: 1, h: 9, w: 9, ci: 42, co: 74, k: 4, stride: 1, pad: "same" },
  { n: 1, h: 14, w: 14, ci: 11, co: 3, k: 6, stride: 1, pad: "same" },
  { n: 4, h: 14, w: 14, ci: 3, co: 11, k: 5, stride: 2, pad: "valid" },
  { n: 1, h: 14, w: 14, ci: 74, co: 42, k: 4, stride: 2, pad: "valid" },
  { n: 1, h: 28, w: 28, ci: 3, co: 1, k: 4, stride: 2, pad: "same" },
  { n: 1, h: 28, w: 28, ci: 11, co: 3, k: 5, stride: 1, pad: "valid" },
  { n: 4, h: 28, w: 28, ci: 1, co: 3, k: 6, stride: 2, pad: "valid" },
  { n: 1, h: 28, w: 28, ci: 42, co: 11, k: 5, stride: 2, pad: "same" },
  {
    n: 2,
    h: 10,
    w: 10,
    ci: 3,
    co: 4,
    k: 3,
    stride: 2,
    pad: [
      [0, 0],
      [2, 1],
      [0, 3],
      [0, 0],
    ],
  },
  { n: 1, h: 10, w: 10, ci: 11, co: 3, k: 4, stride: 2, pad: 1 },
  { n: 2, h: 9, w: 12, ci: 5, co: 3, k: [3, 5], stride: [2, 3], pad: "same" },
  { n: 1, h: 13, w: 8, ci: 17, co: 2, k: [1, 4], stride: [3, 2], pad: "valid" },
  { n: 1, h: 10, w: 10, ci: 2, co: 3, k: 2, stride: 3, pad: "same" }, // filter smaller than the stride
];

const STRATEGIES: WasmKernelStrategy["inputGradient"][] = ["auto", "fused", "split"];
// Both engines the kernels run on. "native" needs build/native/gan-blas.node (npm run build:native): without it
// the test fails and says so, unless GAN_NATIVE=0 asks for XNNPACK only.
const ENGINES: WasmKernelStrategy["engine"][] = process.env.GAN_NATIVE === "0" ? ["xnnpack"] : ["native", "xnnpack"];

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend("wasm");
});

describe("registration", () => {
  it("puts this module's kernel functions in the wasm registry, replacing the stock Conv2DBackpropInput", () => {
    registerWasmTrainingKernels(); // a second call must change nothing
    for (const [name, func] of Object.entries(wasmTrainingKernelFuncs)) {
      expect(tf.getKernel(name, "wasm")?.kernelFunc, name).toBe(func);
    }
    const stock = stockWasmKernels.Conv2DBackpropInput?.kernelFunc;
    expect(stock).toBeTypeOf("function");
    expect(tf.getKernel("Conv2DBackpropInput", "wasm").kernelFunc).not.toBe(stock);
    // The BatchMatMul wrapper calls the stock kernel, whose set-up must still run at tf.setBackend('wasm').
    expect(tf.getKernel("BatchMatMul", "wasm").setupFunc).toBeTypeOf("function");
    // Only the wasm backend is touched.
    expect(tf.getKernel("Conv2DBackpropFilter", "cpu").kernelFunc).not.toBe(wasmTrainingKernelFuncs.Conv2DBackpropFilter);
  });
});

describe("Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter match the cpu backend, on OpenBLAS and on XNNPACK", () => {
  for (const c of CASES) {
    it(describeCase(c), async () => {
      const { xShape, filterShape, dyShape } = geometry(c);
      const x = values(size(xShape), 1);
      const filter = values(size(filterShape), 2);
      const dy = values(size(dyShape), 3);
      const common = { strides: c.stride, pad: c.pad, dataFormat: "NHWC" };
      const forward = () =>
        tf.engine().runKernel("Conv2D", { x: tf.tensor4d(x, xShape), filter: tf.tensor4d(filter, filterShape) }, { ...common, dilations: 1 }) as tf.Tensor;
      const inputGradient = () =>
        tf
          .engine()
          .runKernel(
            "Conv2DBackpropInput",
            { dy: tf.tensor4d(dy, dyShape), filter: tf.tensor4d(filter, filterShape) },
            { ...common, inputShape: xShape },
          ) as tf.Tensor;
      const filterGradient = () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x: tf.tensor4d(x, xShape), dy: tf.tensor4d(dy, dyShape) }, { ...common, filterShape }) as tf.Tensor;
      const [forwardRef] = await on("cpu", forward);
      const [inputRef] = await on("cpu", inputGradient);
      const [filterRef] = await on("cpu", filterGradient);
      if (forwardRef === undefined || inputRef === undefined || filterRef === undefined) throw new Error("no cpu result");
      try {
        for (const engine of ENGINES) {
          // The input gradient's decompositions are XNNPACK's; on OpenBLAS there is one path.
          for (const inputStrategy of engine === "xnnpack" ? STRATEGIES : (["auto"] as const)) {
            setWasmKernelStrategy({ engine, inputGradient: inputStrategy });
            const [inputWasm] = await on("wasm", inputGradient);
            if (inputWasm === undefined) throw new Error("no wasm result");
            expect(relativeError(inputRef, inputWasm), `Conv2DBackpropInput, ${engine}, ${inputStrategy}`).toBeLessThanOrEqual(1e-4);
          }
          const [forwardWasm] = await on("wasm", forward);
          const [filterWasm] = await on("wasm", filterGradient);
          if (forwardWasm === undefined || filterWasm === undefined) throw new Error("no wasm result");
          expect(relativeError(forwardRef, forwardWasm), `Conv2D, ${engine}`).toBeLessThanOrEqual(1e-4);
          expect(relativeError(filterRef, filterWasm), `Conv2DBackpropFilter, ${engine}`).toBeLessThanOrEqual(1e-4);
        }
      } finally {
        setWasmKernelStrategy({ engine: "auto", inputGradient: "auto" });
      }
    });
  }
});

describe("whole gradients through tf.grads match the cpu backend", () => {
  it("conv2d: d sum(conv2d(x, w)^2) / d(x, w), 5x5 stride 2 'same' and 4x4 stride 1 'valid'", async () => {
    for (const [k, stride, pad] of [
      [5, 2, "same"],
      [4, 1, "valid"],
    ] as const) {
      const x = values(3 * 14 * 14 * 11, 4);
      const w = values(k * k * 11 * 7, 5);
      await expectSameOnBothBackends(() =>
        tf.grads((xs: tf.Tensor, ws: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xs as tf.Tensor4D, ws as tf.Tensor4D, stride, pad))))([
          tf.tensor4d(x, [3, 14, 14, 11]),
          tf.tensor4d(w, [k, k, 11, 7]),
        ]),
      );
    }
  });

  it("conv2dTranspose: d sum(conv2dTranspose(x, w)^2) / d(x, w), 6x6 stride 2 'same' 7 -> 14 -> 28", async () => {
    for (const [h, ci, co] of [
      [7, 16, 8],
      [14, 8, 1],
    ] as const) {
      const x = values(2 * h * h * ci, 6);
      const w = values(6 * 6 * co * ci, 7); // conv2dTranspose filter: [kh, kw, outChannels, inChannels]
      await expectSameOnBothBackends(() =>
        tf.grads((xs: tf.Tensor, ws: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2dTranspose(xs as tf.Tensor4D, ws as tf.Tensor4D, [2, 2 * h, 2 * h, co], 2, "same"))),
        )([tf.tensor4d(x, [2, h, h, ci]), tf.tensor4d(w, [6, 6, co, ci])]),
      );
    }
  });
});

describe("the other kernels a conv GAN's training step needs work on wasm", () => {
  // Forward and backward of each op the project's networks use, compared with cpu. A kernel missing on wasm
  // throws "Kernel 'X' not registered for backend 'wasm'".
  const grads =
    (f: (...xs: tf.Tensor[]) => tf.Tensor, ...inputs: [Float32Array, number[]][]) =>
    () => {
      const xs = inputs.map(([v, s]) => tf.tensor(v, s));
      return [f(...xs), ...tf.grads(f)(xs)];
    };
  const v = (n: number, seed: number): Float32Array => values(n, seed);
  const ops: [string, () => tf.Tensor[]][] = [
    [
      "batch norm by hand (moments + arithmetic) and tf.batchNorm",
      grads(
        (x, g, b) => {
          const { mean, variance } = tf.moments(x, [0, 1, 2]);
          const byHand = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
          return tf.sum(tf.square(tf.add(byHand, tf.batchNorm(x, mean, variance, b, g, 1e-5))));
        },
        [v(2 * 4 * 4 * 3, 1), [2, 4, 4, 3]],
        [v(3, 2), [3]],
        [v(3, 3), [3]],
      ),
    ],
    [
      "relu, leakyRelu, sigmoid, tanh, softplus, log",
      grads(
        (x) => {
          const a = tf.add(tf.relu(x), tf.leakyRelu(x, 0.2));
          const b = tf.add(tf.sigmoid(x), tf.tanh(x));
          return tf.sum(tf.mul(tf.add(a, b), tf.add(tf.softplus(x), tf.log(tf.add(tf.abs(x), 1)))));
        },
        [v(40, 4), [4, 10]],
      ),
    ],
    [
      "binary cross-entropy on logits (relu, abs, exp, log1p, mean)",
      grads(
        (z) => {
          const target = tf.onesLike(z);
          return tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, target)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))));
        },
        [v(16, 5), [16, 1]],
      ),
    ],
    [
      "matMul, concat, slice, reshape, sum, mean, max",
      grads(
        (a, b) => {
          const m = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D); // [3, 5]
          const c = tf.concat([m, tf.slice(m, [0, 1], [3, 2])], 1); // [3, 7]
          const r = tf.reshape(c, [7, 3]);
          return tf.add(tf.add(tf.sum(tf.square(r)), tf.mean(r)), tf.max(r));
        },
        [v(12, 6), [3, 4]],
        [v(20, 7), [4, 5]],
      ),
    ],
    [
      "gather (an embedding lookup; its gradient is UnsortedSegmentSum)",
      grads((table) => tf.sum(tf.square(tf.gather(table, tf.tensor1d([0, 2, 2, 1], "int32")))), [v(12, 8), [3, 4]]),
    ],
    [
      "label planes: tile, broadcast, concat along channels",
      grads(
        (img, onehot) => {
          const planes = tf.tile(tf.reshape(onehot, [2, 1, 1, 10]), [1, 4, 4, 1]);
          const broadcast = tf.mul(tf.reshape(onehot, [2, 1, 1, 10]), tf.onesLike(planes));
          return tf.sum(tf.square(tf.concat([img, planes, broadcast], 3)));
        },
        [v(2 * 4 * 4, 9), [2, 4, 4, 1]],
        [v(20, 10), [2, 10]],
      ),
    ],
  ];
  for (const [name, f] of ops) {
    it(name, async () => {
      await expectSameOnBothBackends(f);
    });
  }

  it("BatchMatMul with transposed operands (a dense layer's gradients), both evaluation orders", async () => {
    // [rows, k] x [k, cols] in every transpose combination; the shapes make the wrapper take its direct form
    // for some and its swapped form (C^T = B^T A^T) for others, and leave batched products to the stock kernel.
    const cases: [number[], number[], boolean, boolean][] = [
      [[6, 40], [40, 5], false, false],
      [[6, 40], [5, 40], false, true], // big A, small B: direct
      [[3, 7], [50, 7], false, true], // small A, big B (dx = dy W^T): swapped
      [[40, 6], [40, 5], true, false], // dW = x^T dy: direct
      [[7, 3], [50, 7], true, true], // swapped
      [[3, 40], [5, 3], true, true], // direct
      [[1, 9, 4], [1, 6, 9], true, true], // rank 3, batch 1
      [[2, 9, 4], [2, 6, 9], true, true], // batch 2: the stock kernel
      // One row or one column: dot products in one pass (a dense layer with one output and its gradients).
      [[5, 37], [37, 1], false, false], // x·w
      [[37, 5], [37, 1], true, false], // xᵀ·dy
      [[5, 37], [1, 37], false, true],
      [[1, 37], [37, 6], false, false],
      [[1, 37], [6, 37], false, true],
      [[37, 1], [37, 6], true, false],
      [[1, 1, 3], [1, 3, 1], false, false], // rank 3, batch 1, k 3
    ];
    try {
      for (const engine of ENGINES) {
        setWasmKernelStrategy({ engine });
        for (const [aShape, bShape, transposeA, transposeB] of cases) {
          const a = v(size(aShape), 20);
          const b = v(size(bShape), 21);
          await expectSameOnBothBackends(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB));
        }
      }
    } finally {
      setWasmKernelStrategy({ engine: "auto" });
    }
  });

  it("plain products take both forms too (C = A·B, or (Bᵀ·Aᵀ)ᵀ when packing B costs more)", async () => {
    const previous = setWasmKernelStrategy({ packCost: 8, engine: "xnnpack" }); // the forms are XNNPACK's
    try {
      for (const [aShape, bShape] of [
        [
          [6, 40],
          [40, 50],
        ], // big B: swapped when packing costs 8 transposes
        [
          [50, 40],
          [40, 6],
        ], // small B: direct either way
      ] as const) {
        const a = v(size([...aShape]), 22);
        const b = v(size([...bShape]), 23);
        await expectSameOnBothBackends(() => tf.matMul(tf.tensor(a, [...aShape]), tf.tensor(b, [...bShape])));
      }
    } finally {
      setWasmKernelStrategy(previous);
    }
  });

  it("Sum and Mean over the leading axes (in one pass) and over any other axes (the stock kernels) match cpu", async () => {
    // [rows, inner] with inner a multiple of 8, not one, and 1; keepDims; negative and unsorted axes; every axis.
    const cases: [number[], number | number[] | undefined, boolean][] = [
      [[64, 14, 14, 32], [0, 1, 2], false], // BatchNormalization's moments and a conv bias gradient
      [[4, 7, 7, 64], [0, 1, 2], true],
      [[64, 512], 0, false], // a dense bias gradient
      [[5, 3, 13], [1, 0], false], // unsorted; inner 13 = one block of 8 and five single columns
      [[5, 3, 13], [-3], true],
      [[9, 1], [0], false], // inner 1
      [[3, 4, 5], undefined, false], // every axis
      [[3, 4, 5], [0, 1, 2], true],
      [[3, 4, 5], [1, 2], false], // trailing axes: stock
      [[3, 4, 5], [0, 2], false], // not leading: stock
    ];
    for (const [shape, axis, keepDims] of cases) {
      const x = v(size(shape), 30).map((e, i) => e * (1 + (i % 7)));
      await expectSameOnBothBackends(() => [tf.sum(tf.tensor(x, shape), axis, keepDims), tf.mean(tf.tensor(x, shape), axis, keepDims)], 1e-6);
    }
  });

  it("ReLU's and LeakyReLU's one-pass gradients equal tfjs's composites bit for bit, at 0, -0, ±∞ and NaN too", async () => {
    const x = Float32Array.from([-2, -0, 0, 1e-30, -1e-30, 3, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, ...v(23, 12)]);
    const dy = Float32Array.from([1, 2, -3, 4, 5, -6, 7, 8, 9, ...v(23, 13)]);
    // α as a float32 value: the wasm kernels take α as float32 (stock and these), the cpu backend as a double.
    const alpha = Math.fround(0.2);
    const run = () => {
      const xt = tf.tensor1d(x);
      const dyt = tf.tensor1d(dy);
      return [tf.grad((t: tf.Tensor) => tf.relu(t))(xt, dyt), tf.grad((t: tf.Tensor) => tf.leakyRelu(t, alpha))(xt, dyt), tf.leakyRelu(xt, alpha), tf.relu(xt)];
    };
    const reference = await on("cpu", run);
    const actual = await on("wasm", run);
    const bits = (r: Result) => Array.from(new Uint32Array(r.data.buffer)).map((b, i) => (Number.isNaN(r.data[i]) ? "NaN" : b));
    for (let i = 0; i < reference.length; i++) expect(bits(actual[i]!)).toEqual(bits(reference[i]!));
  });

  it("UnsortedSegmentSum drops ids outside [0, numSegments) like the cpu backend", async () => {
    const x = v(5 * 3, 11);
    await expectSameOnBothBackends(() => tf.unsortedSegmentSum(tf.tensor2d(x, [5, 3]), tf.tensor1d([1, 0, 1, 3, 2], "int32"), 3));
  });
});

describe("unsupported attrs fail loudly, naming the attr", () => {
  const dy = () => tf.zeros([1, 4, 4, 2]);
  it("dataFormat NCHW", async () => {
    await tf.setBackend("wasm");
    expect(() =>
      tf.engine().runKernel(
        "Conv2DBackpropInput",
        { dy: dy(), filter: tf.zeros([3, 3, 2, 2]) },
        {
          strides: 2,
          pad: "same",
          dataFormat: "NCHW",
          inputShape: [1, 2, 8, 8],
        },
      ),
    ).toThrow(/dataFormat 'NCHW'/);
    expect(() =>
      tf.engine().runKernel(
        "Conv2DBackpropFilter",
        { x: tf.zeros([1, 2, 8, 8]), dy: dy() },
        {
          strides: 2,
          pad: "same",
          dataFormat: "NCHW",
          filterShape: [3, 3, 2, 2],
        },
      ),
    ).toThrow(/dataFormat 'NCHW'/);
  });
  it("dilations other than 1", async () => {
    await tf.setBackend("wasm");
    expect(() =>
      tf.engine().runKernel(
        "Conv2DBackpropFilter",
        { x: tf.zeros([1, 8, 8, 2]), dy: dy() },
        {
          strides: 2,
          pad: "same",
          dataFormat: "NHWC",
          filterShape: [3, 3, 2, 2],
          dilations: 2,
        },
      ),
    ).toThrow(/dilations/);
  });
});

describe("no leaks", () => {
  it("a training step of a small conv GAN-like stack leaves no tensor and no wasm buffer behind", async () => {
    await tf.setBackend("wasm");
    // Let the engine check every kernel for internal leaks as well (its IS_TEST mode).
    const wasTest = tf.env().getBool("IS_TEST");
    tf.env().set("IS_TEST", true);
    try {
      const weights = (shape: Shape4, seed: number) =>
        tf.variable(
          tf.tensor4d(
            values(size(shape), seed).map((w) => w * 0.1),
            shape,
          ),
        );
      const deconv = weights([6, 6, 8, 16], 12);
      const out = weights([6, 6, 1, 8], 13);
      const conv = weights([5, 5, 1, 8], 14);
      const dense = tf.variable(
        tf.tensor2d(
          values(14 * 14 * 8, 19).map((w) => w * 0.01),
          [14 * 14 * 8, 1],
        ),
      );
      const z = tf.tensor4d(values(4 * 7 * 7 * 16, 15), [4, 7, 7, 16]);
      const step = () =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const h = tf.relu(tf.conv2dTranspose(z, deconv, [4, 14, 14, 8], 2, "same")); // [4, 14, 14, 8]
            const img = tf.sigmoid(tf.conv2dTranspose(h, out, [4, 28, 28, 1], 2, "same")); // [4, 28, 28, 1]
            const d = tf.leakyRelu(tf.conv2d(img, conv, 2, "same"), 0.2); // [4, 14, 14, 8]
            const logit = tf.matMul(tf.reshape(d, [4, 14 * 14 * 8]), dense); // [4, 1]: BatchMatMul grads transpose
            return tf.mean(tf.square(logit));
          });
          for (const [name, g] of Object.entries(grads)) {
            const variable = [deconv, out, conv, dense].find((x) => x.name === name);
            variable?.assign(tf.sub(variable, tf.mul(g, 0.01)));
          }
          return value;
        });
      step().dispose(); // warm-up: first calls may allocate caches
      const tensorsBefore = tf.memory().numTensors;
      const dataIdsBefore = tf.engine().backend.numDataIds();
      for (let i = 0; i < 2; i++) step().dispose();
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(tf.engine().backend.numDataIds()).toBe(dataIdsBefore);
      tf.dispose([deconv, out, conv, dense, z]);
    } finally {
      tf.env().set("IS_TEST", wasTest);
    }
  });

  it("each kernel releases its intermediates, also when a strategy is forced", async () => {
    await tf.setBackend("wasm");
    const backend = tf.engine().backend;
    const dy = tf.tensor4d(values(2 * 7 * 7 * 16, 16), [2, 7, 7, 16]);
    const x = tf.tensor4d(values(2 * 14 * 14 * 8, 17), [2, 14, 14, 8]);
    const filter = tf.tensor4d(values(5 * 5 * 8 * 16, 18), [5, 5, 8, 16]);
    const before = backend.numDataIds();
    try {
      for (const inputGradient of STRATEGIES) {
        setWasmKernelStrategy({ inputGradient });
        const dx = tf.engine().runKernel(
          "Conv2DBackpropInput",
          { dy, filter },
          {
            strides: 2,
            pad: "same",
            dataFormat: "NHWC",
            inputShape: [2, 14, 14, 8],
          },
        ) as tf.Tensor;
        const dw = tf.engine().runKernel(
          "Conv2DBackpropFilter",
          { x, dy },
          {
            strides: 2,
            pad: "same",
            dataFormat: "NHWC",
            filterShape: [5, 5, 8, 16],
          },
        ) as tf.Tensor;
        expect(backend.numDataIds()).toBe(before + 2);
        tf.dispose([dx, dw]);
        expect(backend.numDataIds()).toBe(before);
      }
      // BatchMatMul's direct and swapped forms.
      for (const [aShape, bShape] of [
        [
          [3, 7],
          [50, 7],
        ],
        [
          [40, 6],
          [5, 6],
        ],
      ] as const) {
        const a = tf.ones([...aShape]);
        const b = tf.ones([...bShape]);
        const withInputs = backend.numDataIds();
        const c = tf.matMul(a, b, false, true);
        expect(backend.numDataIds()).toBe(withInputs + 1);
        tf.dispose([a, b, c]);
      }
      expect(backend.numDataIds()).toBe(before);
    } finally {
      setWasmKernelStrategy({ inputGradient: "auto" });
      tf.dispose([dy, x, filter]);
    }
  });
});
