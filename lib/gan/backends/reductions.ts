/**
 * Two-stage Sum and Mean for GPU backends (webgpu).
 *
 * Training reduces large tensors over their leading axes all the time: every bias gradient sums dy over
 * [batch, H, W], BatchNormalization's moments and their gradients average over the same axes. tfjs-backend-webgpu
 * transposes the tensor so the reduced axes are innermost, then runs one workgroup per output value: for a
 * [1024, 14, 14, 32] activation that is 32 workgroups, each summing 200,704 values, on a GPU with over a
 * hundred compute units. This wrapper splits the reduced extent N into G groups ([G, N/G, C]), reduces each group
 * first (G·C workgroups) and then the G partial results, with the backend's own kernels. Groups are equal, so a
 * mean of group means is the mean exactly.
 */
import * as tf from "@tensorflow/tfjs-core";

type KernelFunc = tf.KernelConfig["kernelFunc"];
type TensorInfo = tf.TensorInfo;

/** Splits only when the reduction is long and its output small: that is where one workgroup per output starves. */
const MIN_REDUCED = 16_384;
const MAX_OUTPUT = 4_096;
const MAX_GROUPS = 1_024;

/** The largest divisor of n that is ≤ limit and leaves groups of ≥ 16 values, or 1 when none helps. */
export function groupCount(n: number, limit = MAX_GROUPS): number {
  for (let g = Math.min(limit, Math.floor(n / 16)); g >= 8; g--) if (n % g === 0) return g;
  return 1;
}

const wrapped = new Set<string>();

/** Registers two-stage Sum and Mean for `backendName`, wrapping its own kernels. Idempotent. */
export function registerTwoStageReductions(backendName: string): void {
  if (wrapped.has(backendName)) return;
  const reshapeKernel = tf.getKernel("Reshape", backendName);
  if (!reshapeKernel) throw new Error(`backend ${backendName} has no Reshape kernel`);
  const reshape = (x: TensorInfo, shape: number[], backend: tf.KernelBackend) =>
    reshapeKernel.kernelFunc({ inputs: { x }, backend, attrs: { shape } }) as TensorInfo;

  for (const kernelName of ["Sum", "Mean"] as const) {
    const stock = tf.getKernel(kernelName, backendName);
    if (!stock) throw new Error(`backend ${backendName} has no ${kernelName} kernel`);
    const stockFunc: KernelFunc = stock.kernelFunc;
    const reduce = (x: TensorInfo, axis: number[], backend: tf.KernelBackend) =>
      stockFunc({ inputs: { x }, backend, attrs: { axis, keepDims: false } }) as TensorInfo;

    const kernelFunc: KernelFunc = (args) => {
      const x = args.inputs.x as TensorInfo;
      const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
      const leading = axes.every((a, i) => a === i);
      const n = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
      const c = x.shape.slice(axes.length).reduce((a, b) => a * b, 1);
      const g = leading && n >= MIN_REDUCED && c <= MAX_OUTPUT && x.dtype === "float32" ? groupCount(n) : 1;
      if (g === 1) return stockFunc(args);
      const backend = args.backend as tf.KernelBackend;
      const grouped = reshape(x, [g, n / g, c], backend); // [G, N/G, C]
      const partial = reduce(grouped, [1], backend); // [G, C]
      const total = reduce(partial, [0], backend); // [C]
      const outShape = keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
      const out = reshape(total, outShape, backend);
      for (const t of [grouped, partial, total]) backend.disposeData(t.dataId);
      return out;
    };
    tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ ...stock, kernelFunc });
  }
  wrapped.add(backendName);
}
