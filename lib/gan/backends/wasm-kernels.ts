/**
 * Training kernels for TensorFlow.js's `wasm` backend (tfjs 4.22).
 *
 * The stock wasm backend cannot train a convolution net: it has no `Conv2DBackpropFilter` kernel, and its
 * `Conv2DBackpropInput` (the input gradient of every conv2d and the forward pass of every conv2dTranspose) is a
 * plain C++ loop 5-7x slower than XNNPACK's forward convolution. This module registers, for backend 'wasm':
 *
 * - `Conv2DBackpropInput` (replaces the stock one): the transposed convolution split into its stride x stride
 *   output phases ("sub-pixel" convolution). Each phase is a small dense stride-1 convolution of dy with a
 *   sub-kernel of the filter, run by XNNPACK; either all phases in ONE convolution (their sub-kernels stacked
 *   along the output channels) or one convolution per phase, whichever multiplies less. One pass in JavaScript
 *   then interleaves the phases and crops the edges. No multiply touches an inserted zero (the zero-insertion
 *   formulation spends 3/4 of its multiplies on them at stride 2).
 * - `Conv2DBackpropFilter` (missing): one XNNPACK convolution of the transposed input ([ci, H, W, n]) with the
 *   transposed output gradient ([OH, OW, n, co]) as a filter dilated by the stride. XNNPACK's indirect GEMM
 *   reads the dilated taps in place, so no zero is multiplied here either and a per-phase split would do the same
 *   multiplies; an im2col (in JavaScript) + matMul variant measured slower at every shape of the project.
 * - `UnsortedSegmentSum` (missing; the gradient of `gather`, e.g. of an embedding lookup).
 * - `BatchMatMul` (wraps the stock one): the stock kernel uses XNNPACK only when neither operand is transposed
 *   and falls back to a loop 10-25x slower otherwise, which is every dense layer's backward pass (dy W^T and
 *   x^T dy). The wrapper transposes explicitly and calls the stock kernel untransposed.
 *
 * The kernels call the wasm backend's own kernel functions (`Conv2D`, `Transpose`, `Slice`, the stock
 * `BatchMatMul`) directly with `{inputs, backend, attrs}`, like the backend's composite kernels do: no engine,
 * no tape, no tensors. Every intermediate is released with `backend.disposeData` before the kernel returns, on
 * errors too (the engine's IS_TEST per-kernel leak check passes).
 *
 * Usage (either order works: the BatchMatMul wrapper keeps the stock set-up function, the other kernels need
 * none and look their helpers up when they run):
 *
 *   import * as tf from "@tensorflow/tfjs-core";
 *   import { registerWasmTrainingKernels } from "./backends/wasm-kernels";
 *   registerWasmTrainingKernels();          // idempotent
 *   await tf.setBackend("wasm");
 *
 * Supported: float32, NHWC, any strides, pad 'same' | 'valid' | number | explicit [[0,0],[t,b],[l,r],[0,0]],
 * any kernel size, dimRoundingMode. Unsupported attrs throw an error that names the attr: dataFormat 'NCHW',
 * dilations other than 1. Results match the cpu backend to float32 rounding (under 1e-6 relative in the tests).
 */
import * as tf from "@tensorflow/tfjs-core";
// Side effect: registers the stock wasm kernels first, so that registering ours afterwards replaces them and
// a later import of the package cannot silently put the stock Conv2DBackpropInput back.
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { type Geometry, type NativeBlas, nativeBlas, scratchFloats } from "./native-blas";
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
  UnsortedSegmentSumAttrs,
} from "@tensorflow/tfjs-core";

const BACKEND = "wasm";

/**
 * How the kernels decompose their work. 'auto' (the default) picks by counting multiplies; the others force a
 * path, for tests that must cover every path and for benchmarks that compare them.
 */
export interface WasmKernelStrategy {
  /** Conv2DBackpropInput: one fused sub-pixel convolution, one convolution per phase, or the cheaper. */
  inputGradient: "auto" | "fused" | "split";
  /**
   * BatchMatMul: what XNNPACK's packing of the right-hand operand costs per float, against 1 for a transpose. The
   * wrapper computes C = A·B or C = (Bᵀ·Aᵀ)ᵀ, whichever costs less; 0 keeps plain products on the stock path.
   */
  packCost: number;
  /**
   * Products and convolutions: OpenBLAS through the native module when it is built (lib/gan/backends/native-blas.ts),
   * or XNNPACK in the wasm heap. 'auto' takes the native module when it loads.
   */
  engine: "auto" | "native" | "xnnpack";
}

// Packing a fresh operand costs several transposes per float: `npx tsx scripts/bench-products.ts` (2026-12-01,
// 2 threads, weights new at every call as in training): x[64, 3146]·W[3146, 512] 37.65 ms direct, 16.84 ms as
// (Wᵀ·xᵀ)ᵀ.
const strategy: WasmKernelStrategy = { inputGradient: "auto", packCost: 4, engine: "auto" };

/** The native kernels when the strategy and the build allow them; 'native' without a build is an error. */
function native(): NativeBlas | null {
  if (strategy.engine === "xnnpack") return null;
  const { blas, reason } = nativeBlas();
  if (blas === null && strategy.engine === "native") throw new Error(`wasm training kernels: the native engine was asked for, but ${reason}`);
  return blas;
}

/** The geometry of a convolution for the native moves. */
function nativeGeometry(info: tf.backend_util.Conv2DInfo): Geometry {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.outHeight,
    info.outWidth,
  ];
}

/** A float32 view of a tensor on the wasm heap (re-made after any allocation: growth detaches views). */
const heap = (backend: BackendWasm, t: TensorInfo): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;

/** Sets the decomposition strategy (see WasmKernelStrategy) and returns the previous one. */
export function setWasmKernelStrategy(next: Partial<WasmKernelStrategy>): WasmKernelStrategy {
  const previous = { ...strategy };
  Object.assign(strategy, next);
  return previous;
}

// ---------------------------------------------------------------------------------------------------------------
// Calling the backend's own kernels
// ---------------------------------------------------------------------------------------------------------------

/** Runs the wasm backend's kernel `name` directly (no engine, no tape) and returns its single output. */
function runWasmKernel(backend: BackendWasm, name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  // getKernel's declared type says it always returns a config; at run time it is undefined when missing.
  const config = tf.getKernel(name, BACKEND) as KernelConfig | undefined;
  if (config == null) {
    throw new Error(`wasm training kernels: the wasm backend has no '${name}' kernel, which they build on`);
  }
  const out = config.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) {
    throw new Error(`wasm training kernels: expected one output from '${name}', got ${out.length}`);
  }
  return out;
}

/**
 * Intermediate TensorInfos of one kernel call. `release(result)` frees every one except the result, on the
 * success path and on the error path alike (call it from `finally`).
 */
class Temporaries {
  private readonly infos: TensorInfo[] = [];

  constructor(private readonly backend: BackendWasm) {}

  add(info: TensorInfo): TensorInfo {
    this.infos.push(info);
    return info;
  }

  /** Builds a float32 tensor on the wasm heap from JavaScript values. */
  fromValues(shape: number[], values: Float32Array): TensorInfo {
    return this.add(this.backend.makeOutput(shape, "float32", undefined, values));
  }

  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    return this.add(runWasmKernel(this.backend, name, inputs, attrs));
  }

  release(keep?: TensorInfo): void {
    for (const info of this.infos) {
      if (info !== keep) this.backend.disposeData(info.dataId);
    }
    this.infos.length = 0;
  }
}

function shape4(info: TensorInfo, what: string): [number, number, number, number] {
  const [a, b, c, d] = info.shape;
  if (info.shape.length !== 4 || a === undefined || b === undefined || c === undefined || d === undefined) {
    throw new Error(`wasm training kernels: expected ${what} of rank 4, got shape [${info.shape.join(", ")}]`);
  }
  return [a, b, c, d];
}

function assertFloat32(info: TensorInfo, what: string, kernel: string): void {
  if (info.dtype !== "float32") {
    throw new Error(`wasm ${kernel}: ${what} must be float32, got ${info.dtype}`);
  }
}

/** A float32 tensor of zeros on the wasm heap (makeOutput alone leaves the memory as malloc returned it). */
function zeros(backend: BackendWasm, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, "float32", undefined, new Float32Array(tf.util.sizeFromShape(shape)));
}

/** Throws for the attrs these kernels do not implement, naming the attr. */
function assertSupportedAttrs(kernel: string, attrs: NamedAttrMap): void {
  const dataFormat = attrs.dataFormat;
  if (dataFormat != null && dataFormat !== "NHWC") {
    throw new Error(`wasm ${kernel}: dataFormat '${String(dataFormat)}' is not supported, only 'NHWC'`);
  }
  // The tfjs kernels carry no dilations; refuse them loudly if a caller passes some anyway.
  const dilations = attrs.dilations;
  if (dilations != null) {
    const values = Array.isArray(dilations) ? dilations : [dilations];
    if (values.some((d) => d !== 1)) {
      throw new Error(`wasm ${kernel}: dilations ${JSON.stringify(dilations)} are not supported, only 1`);
    }
  }
}

/** Python-style modulo (the result has the sign of the divisor). */
function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2DBackpropInput: sub-pixel (phase) decomposition
// ---------------------------------------------------------------------------------------------------------------
//
// One spatial axis is enough to explain it (rows; columns work the same, independently). The forward conv reads
//   y[oh] = sum_i x[oh*s + i - pad] * w[i]                        (i in [0, k), s = stride)
// so its input gradient is
//   dx[h] = sum over (oh, i) with oh*s + i = h + pad of dy[oh] * w[i].
// Write the output row as h = s*u + r - a0, with r in [0, s) its phase and a0 in [0, s) a free alignment. Then
// h + pad = s*(u + d) + q with c = r - a0 + pad, q = c mod s, d = floor(c / s), and the terms are i = q + s*a,
// oh = u + d - a for a = 0 .. Ka-1, Ka = ceil((k - q) / s) (0 when q >= k). So phase r of dx is a stride-1
// correlation of dy with the sub-kernel w[q + s*(Ka-1)], ..., w[q + s], w[q] over the dy rows
// [u + d - Ka + 1, u + d]: a small dense convolution, and no multiply touches an inserted zero.
//
// Two ways to run the phases (chosen per call by counting multiplies, see `planInputGradient`):
// - fused: the union of the phases' windows [u + lo, u + hi] gives kc = hi - lo + 1 taps; every phase gets a
//   kc-tap sub-kernel (zero where its own window is shorter) as its own block of output channels, and ONE
//   convolution computes all s*s phases. Exact for the project's 6x6 stride-2 layers (kc = 3 for every phase);
//   the zero taps cost 1.2x per axis for a 5x5 kernel. Best when ci is small: XNNPACK tiles output channels
//   by 8, so ci = 1 as 4 phases x 1 channel beats 4 convolutions of 1 channel each.
// - split: one convolution per phase with its exact sub-kernel (5x5 stride 2: 3x3, 3x2, 2x3, 2x2 taps).
// Either way the outputs are interleaved (output u of phase r is dx row s*u + r - a0) and cropped in one pass.

/** One stride-1 convolution along one axis: the phases it computes and its geometry over dy. */
interface AxisGroup {
  /** The phases r this convolution computes, in output-channel order. */
  residues: number[];
  /** Taps of its sub-kernels. */
  kc: number;
  /** For residues[p] and tap t: the filter index, or -1 where that phase has no tap there. [residues * kc] */
  tap: Int32Array;
  /** Zero rows added before / after dy by the convolution's explicit padding. */
  padBefore: number;
  padAfter: number;
  /** Rows the convolution produces; unit u of its phases is row u + offset. */
  rows: number;
  offset: number;
}

interface AxisPlan {
  /** The alignment a0: dx row h is phase (h + a0) mod s of unit floor((h + a0) / s). */
  align: number;
  /** For each phase r: [group index, position in the group], or undefined when the phase has no taps. */
  phaseOf: ([number, number] | undefined)[];
  groups: AxisGroup[];
  /** Multiplies along this axis per output channel: units x taps, summed over the groups. */
  taps: number;
}

/** Phase geometry for alignment a0: per phase r its first filter index q, dy offset d and tap count. */
function phaseGeometry(k: number, s: number, pad: number, align: number): { q: number; d: number; taps: number }[] {
  const out: { q: number; d: number; taps: number }[] = [];
  for (let r = 0; r < s; r++) {
    const c = r - align + pad;
    const q = mod(c, s);
    out.push({ q, d: Math.floor(c / s), taps: q < k ? Math.ceil((k - q) / s) : 0 });
  }
  return out;
}

function makeAxisGroup(
  residues: number[],
  geometry: { q: number; d: number; taps: number }[],
  s: number,
  k: number,
  units: number,
  outSize: number,
): AxisGroup {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const r of residues) {
    const g = geometry[r];
    if (g === undefined || g.taps === 0) continue;
    lo = Math.min(lo, g.d - g.taps + 1);
    hi = Math.max(hi, g.d);
  }
  const kc = hi - lo + 1;
  const tap = new Int32Array(residues.length * kc).fill(-1);
  residues.forEach((r, p) => {
    const g = geometry[r];
    if (g === undefined) return;
    for (let t = 0; t < kc; t++) {
      // Tap t reads dy row u + lo + t = u + d - a, so a = d - lo - t and the filter index is q + s*a.
      const a = g.d - lo - t;
      const i = g.q + s * a;
      if (a >= 0 && i < k) tap[p * kc + t] = i;
    }
  });
  // Unit u must read dy rows [u + lo, u + hi]. With lo < 0 the conv pads -lo zero rows in front; with lo > 0 it
  // produces `offset` = lo rows in front that are skipped.
  const padBefore = Math.max(0, -lo);
  const offset = Math.max(0, lo);
  const padAfter = Math.max(0, units - 1 + hi - (outSize - 1));
  const rows = outSize + padBefore + padAfter - kc + 1;
  return { residues, kc, tap, padBefore, padAfter, rows, offset };
}

/** Plans one axis, fused (one group holding every phase, alignment with the fewest taps) or split. */
function planInputGradientAxis(k: number, s: number, pad: number, size: number, outSize: number, split: boolean): AxisPlan {
  const all = Array.from({ length: s }, (_, r) => r);
  if (split) {
    // Every phase alone: its taps are exact whatever the alignment, so take a0 = 0, which needs the fewest units.
    const geometry = phaseGeometry(k, s, pad, 0);
    const units = Math.ceil(size / s);
    const live = all.filter((r) => (geometry[r]?.taps ?? 0) > 0);
    const groups = live.map((r) => makeAxisGroup([r], geometry, s, k, units, outSize));
    const phaseOf = all.map((r): [number, number] | undefined => {
      const g = live.indexOf(r);
      return g < 0 ? undefined : [g, 0];
    });
    return { align: 0, phaseOf, groups, taps: units * groups.reduce((sum, g) => sum + g.kc, 0) };
  }
  let best: AxisPlan | undefined;
  for (let align = 0; align < s; align++) {
    const geometry = phaseGeometry(k, s, pad, align);
    if (geometry.every((g) => g.taps === 0)) continue;
    const units = Math.ceil((size + align) / s); // s*units >= size + align
    const group = makeAxisGroup(all, geometry, s, k, units, outSize);
    const plan: AxisPlan = {
      align,
      phaseOf: all.map((r): [number, number] => [0, r]),
      groups: [group],
      taps: units * group.kc,
    };
    if (best === undefined || plan.taps < best.taps) best = plan;
  }
  if (best === undefined) throw new Error(`wasm Conv2DBackpropInput: filter size ${k} has no taps`);
  return best;
}

/** XNNPACK's f32 GEMM micro-kernels on wasm SIMD compute output channels in tiles of 8. */
function channelTiles(channels: number): number {
  return Math.ceil(channels / 8) * 8;
}

/** Chooses fused or split by the multiplies XNNPACK will actually do (zero taps and partial tiles included). */
function planInputGradient(
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  pads: { top: number; left: number },
  sizes: { inHeight: number; inWidth: number; outHeight: number; outWidth: number },
  ci: number,
): { rows: AxisPlan; cols: AxisPlan } {
  const plan = (split: boolean) => ({
    rows: planInputGradientAxis(kh, sh, pads.top, sizes.inHeight, sizes.outHeight, split),
    cols: planInputGradientAxis(kw, sw, pads.left, sizes.inWidth, sizes.outWidth, split),
  });
  if (strategy.inputGradient === "fused") return plan(false);
  if (strategy.inputGradient === "split") return plan(true);
  const fused = plan(false);
  if (sh * sw === 1) return fused;
  const split = plan(true);
  const fusedCost = fused.rows.taps * fused.cols.taps * channelTiles(sh * sw * ci);
  const splitCost = split.rows.taps * split.cols.taps * channelTiles(ci);
  // Several convolutions cost a little more each (operator set-up, smaller GEMMs): split must clearly win.
  return splitCost < 0.9 * fusedCost ? split : fused;
}

/**
 * Sub-kernels of one convolution: g[th, tw, o, (ph*nw + pw)*ci + c] = w[tapH[ph][th], tapW[pw][tw], c, o],
 * 0 where a phase has no tap. Input channels of this conv are dy's (co), outputs the phases' dx channels.
 */
function subKernels(
  w: Float32Array, // [kh, kw, ci, co]
  kw: number,
  ci: number,
  co: number,
  rows: AxisGroup,
  cols: AxisGroup,
): Float32Array {
  const nh = rows.residues.length;
  const nw = cols.residues.length;
  const outC = nh * nw * ci;
  const g = new Float32Array(rows.kc * cols.kc * co * outC); // [kch, kcw, co, nh*nw*ci]
  for (let ph = 0; ph < nh; ph++) {
    for (let th = 0; th < rows.kc; th++) {
      const i = rows.tap[ph * rows.kc + th] ?? -1;
      if (i < 0) continue;
      for (let pw = 0; pw < nw; pw++) {
        for (let tw = 0; tw < cols.kc; tw++) {
          const j = cols.tap[pw * cols.kc + tw] ?? -1;
          if (j < 0) continue;
          const gBase = (th * cols.kc + tw) * co * outC + (ph * nw + pw) * ci;
          const wBase = (i * kw + j) * ci * co;
          for (let c = 0; c < ci; c++) {
            for (let o = 0; o < co; o++) g[gBase + o * outC + c] = w[wBase + c * co + o] ?? 0;
          }
        }
      }
    }
  }
  return g;
}

/** Where one row (or column) of dx comes from: group, row in that group's conv output, position in the group. */
interface Source {
  group: number;
  index: number;
  position: number;
}

function axisSources(plan: AxisPlan, s: number, size: number): (Source | undefined)[] {
  const out: (Source | undefined)[] = [];
  for (let h = 0; h < size; h++) {
    const k = h + plan.align;
    const u = Math.floor(k / s);
    const where = plan.phaseOf[k - u * s];
    const group = where === undefined ? undefined : plan.groups[where[0]];
    out.push(
      where === undefined || group === undefined
        ? undefined
        : {
            group: where[0],
            index: u + group.offset,
            position: where[1],
          },
    );
  }
  return out;
}

/**
 * dx[b, h, w, c] = conv[gh][gw][b, row(h), col(w), (ph*nw + pw)*ci + c]: DepthToSpace and crop in one pass over
 * the heap (the wasm DepthToSpace and Slice kernels each took about as long as the convolution). Views are taken
 * by the caller after the last allocation, since growing the wasm heap detaches older views.
 */
function interleavePhases(
  convs: (Float32Array | undefined)[], // [groupH * groupsW + groupW]: [n, rows, cols, nh*nw*ci]
  plan: { rows: AxisPlan; cols: AxisPlan },
  rowSources: (Source | undefined)[],
  colSources: (Source | undefined)[],
  dx: Float32Array, // [n, height, width, ci], zero-filled
  n: number,
  ci: number,
): void {
  const groupsW = plan.cols.groups.length;
  const height = rowSources.length;
  const width = colSources.length;
  for (let b = 0; b < n; b++) {
    for (let h = 0; h < height; h++) {
      const rs = rowSources[h];
      const rowGroup = rs === undefined ? undefined : plan.rows.groups[rs.group];
      let dst = (b * height + h) * width * ci;
      for (let w = 0; w < width; w++, dst += ci) {
        const cs = colSources[w];
        if (rs === undefined || rowGroup === undefined || cs === undefined) continue; // no taps: stays 0
        const colGroup = plan.cols.groups[cs.group];
        const conv = convs[rs.group * groupsW + cs.group];
        if (colGroup === undefined || conv === undefined) continue;
        const nw = colGroup.residues.length;
        const channels = rowGroup.residues.length * nw * ci;
        const src = ((b * rowGroup.rows + rs.index) * colGroup.rows + cs.index) * channels + (rs.position * nw + cs.position) * ci;
        if (ci >= 16) {
          dx.set(conv.subarray(src, src + ci), dst);
        } else {
          for (let c = 0; c < ci; c++) dx[dst + c] = conv[src + c] ?? 0;
        }
      }
    }
  }
}

/** What tfjs passes a kernel function (its own type says `backend: {}`; each kernel casts it to BackendWasm). */
type KernelArgs = Parameters<KernelFunc>[0];

function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const attrs = (args.attrs ?? {}) as unknown as Conv2DBackpropInputAttrs;
  const { dy, filter } = args.inputs;
  if (dy == null || filter == null) throw new Error("wasm Conv2DBackpropInput: expects inputs dy and filter");
  assertSupportedAttrs("Conv2DBackpropInput", args.attrs ?? {});
  assertFloat32(dy, "dy", "Conv2DBackpropInput");
  assertFloat32(filter, "filter", "Conv2DBackpropInput");

  const filterShape = shape4(filter, "filter");
  const [kh, kw, ci, co] = filterShape; // [kh, kw, inChannels of the forward conv, its outChannels]
  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, "channelsLast");
  const [n, oh, ow, dyChannels] = shape4(dy, "dy"); // [n, oh, ow, co]
  if (oh !== info.outHeight || ow !== info.outWidth || dyChannels !== co || n !== info.batchSize) {
    throw new Error(
      `wasm Conv2DBackpropInput: dy has shape [${dy.shape.join(", ")}], but inputShape ` +
        `[${attrs.inputShape.join(", ")}] with filter [${filterShape.join(", ")}] gives ` +
        `[${info.batchSize}, ${info.outHeight}, ${info.outWidth}, ${co}]`,
    );
  }
  const { inHeight, inWidth, strideHeight: sh, strideWidth: sw } = info;
  if (tf.util.sizeFromShape(dy.shape) === 0 || tf.util.sizeFromShape(filter.shape) === 0) {
    // Nothing flows back (an empty batch, say): dx is all zeros, or empty.
    return zeros(backend, [n, inHeight, inWidth, ci]);
  }
  const blas = native();
  if (blas) {
    // dcols[n·oh·ow, kh·kw·ci] = dy[n·oh·ow, co] · W[kh·kw·ci, co]ᵀ, then summed back into the image.
    const dx = backend.makeOutput([n, inHeight, inWidth, ci], "float32");
    const cols = scratchFloats(n * oh * ow * kh * kw * ci);
    blas.sgemm(heap(backend, dy), heap(backend, filter), cols, n * oh * ow, kh * kw * ci, co, false, true, false);
    blas.col2im(cols, heap(backend, dx), ...nativeGeometry(info));
    return dx;
  }
  const plan = planInputGradient(kh, kw, sh, sw, info.padInfo, { inHeight, inWidth, outHeight: oh, outWidth: ow }, ci);
  const w = backend.readSync(filter.dataId) as Float32Array; // [kh, kw, ci, co]

  const temps = new Temporaries(backend);
  let result: TensorInfo | undefined;
  try {
    // One stride-1 XNNPACK convolution per (row group, column group):
    // dy [n, oh, ow, co] -> [n, rows, cols, nh*nw*ci]
    const convs: (TensorInfo | undefined)[] = [];
    for (const rows of plan.rows.groups) {
      for (const cols of plan.cols.groups) {
        const g = subKernels(w, kw, ci, co, rows, cols);
        const gInfo = temps.fromValues([rows.kc, cols.kc, co, rows.residues.length * cols.residues.length * ci], g);
        convs.push(
          temps.run(
            "Conv2D",
            { x: dy, filter: gInfo },
            {
              strides: [1, 1],
              dilations: [1, 1],
              pad: [
                [0, 0],
                [rows.padBefore, rows.padAfter],
                [cols.padBefore, cols.padAfter],
                [0, 0],
              ],
              dataFormat: "NHWC",
            },
          ),
        );
      }
    }
    // Interleave the phases and crop: -> dx [n, inHeight, inWidth, ci]. makeOutput leaves the heap unset, so
    // rows or columns of phases without taps (filters smaller than the stride) are zeroed explicitly.
    const dx = temps.add(backend.makeOutput([n, inHeight, inWidth, ci], "float32"));
    const dxValues = backend.typedArrayFromHeap(dx) as Float32Array;
    const complete = plan.rows.phaseOf.every((p) => p !== undefined) && plan.cols.phaseOf.every((p) => p !== undefined);
    if (!complete) dxValues.fill(0);
    interleavePhases(
      convs.map((c) => (c === undefined ? undefined : (backend.typedArrayFromHeap(c) as Float32Array))),
      plan,
      axisSources(plan.rows, sh, inHeight),
      axisSources(plan.cols, sw, inWidth),
      dxValues,
      n,
      ci,
    );
    result = dx;
    return result;
  } finally {
    temps.release(result);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2DBackpropFilter: one dilated XNNPACK convolution
// ---------------------------------------------------------------------------------------------------------------
//
//   dw[i, j, c, o] = sum_{b, oh, ow} x[b, oh*sh + i - pt, ow*sw + j - pl, c] * dy[b, oh, ow, o]
//
// Read x transposed to xT[c, h, w, b] as a batch of ci images with n channels, and dy transposed to
// dyT[oh, ow, b, o] as an (oh x ow)-tap filter from n to co channels. Then dw[i, j, c, o] is exactly the stride-1
// convolution of xT with dyT whose taps are spread by the dilation (sh, sw), evaluated at output (c, i, j), with
// x's own padding (pt, pl) in front. The GEMM behind it is (ci*kh*kw) x (oh*ow*n) x co, every multiply useful.

function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const attrs = (args.attrs ?? {}) as unknown as Conv2DBackpropFilterAttrs;
  const { x, dy } = args.inputs;
  if (x == null || dy == null) throw new Error("wasm Conv2DBackpropFilter: expects inputs x and dy");
  assertSupportedAttrs("Conv2DBackpropFilter", args.attrs ?? {});
  assertFloat32(x, "x", "Conv2DBackpropFilter");
  assertFloat32(dy, "dy", "Conv2DBackpropFilter");

  const xShape = shape4(x, "x"); // [n, H, W, ci]
  const [kh, kw, ci, co] = attrs.filterShape;
  const info = tf.backend_util.computeConv2DInfo(xShape, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, "channelsLast");
  const [n, oh, ow, dyChannels] = shape4(dy, "dy"); // [n, oh, ow, co]
  if (oh !== info.outHeight || ow !== info.outWidth || dyChannels !== co || n !== xShape[0] || xShape[3] !== ci) {
    throw new Error(
      `wasm Conv2DBackpropFilter: x [${x.shape.join(", ")}] and filterShape [${attrs.filterShape.join(", ")}] ` +
        `give dy [${xShape[0]}, ${info.outHeight}, ${info.outWidth}, ${co}], got dy [${dy.shape.join(", ")}]`,
    );
  }
  const { inHeight, inWidth, strideHeight: sh, strideWidth: sw } = info;
  if (tf.util.sizeFromShape(x.shape) === 0 || tf.util.sizeFromShape(dy.shape) === 0) {
    return zeros(backend, [kh, kw, ci, co]); // an empty batch contributes nothing
  }
  const blas = native();
  if (blas) {
    // dW[kh·kw·ci, co] = cols[n·oh·ow, kh·kw·ci]ᵀ · dy[n·oh·ow, co].
    const dw = backend.makeOutput([kh, kw, ci, co], "float32");
    const cols = scratchFloats(n * oh * ow * kh * kw * ci);
    blas.im2col(heap(backend, x), cols, ...nativeGeometry(info));
    blas.sgemm(cols, heap(backend, dy), heap(backend, dw), kh * kw * ci, co, n * oh * ow, true, false, false);
    return dw;
  }
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  // Rows of x (in padded coordinates) read by tap (oh-1, kh-1): pad after x so that all kh outputs exist.
  const padBottom = Math.max(0, kh - 1 + sh * (oh - 1) - pt - (inHeight - 1));
  const padRight = Math.max(0, kw - 1 + sw * (ow - 1) - pl - (inWidth - 1));
  // Output extent of the dilated conv (>= kh, kw; any extra rows/cols are cropped).
  const outH = inHeight + pt + padBottom - sh * (oh - 1);
  const outW = inWidth + pl + padRight - sw * (ow - 1);

  const temps = new Temporaries(backend);
  let result: TensorInfo | undefined;
  try {
    const xT = temps.run("Transpose", { x }, { perm: [3, 1, 2, 0] }); // [ci, H, W, n]
    const dyT = temps.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // [oh, ow, n, co]
    let grad = temps.run(
      "Conv2D",
      { x: xT, filter: dyT },
      {
        strides: [1, 1],
        dilations: [sh, sw],
        pad: [
          [0, 0],
          [pt, padBottom],
          [pl, padRight],
          [0, 0],
        ],
        dataFormat: "NHWC",
      },
    ); // [ci, outH, outW, co]
    if (outH !== kh || outW !== kw) {
      grad = temps.run("Slice", { x: grad }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] }); // [ci, kh, kw, co]
    }
    result = temps.run("Transpose", { x: grad }, { perm: [1, 2, 0, 3] }); // [kh, kw, ci, co]
    return result;
  } finally {
    temps.release(result);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// UnsortedSegmentSum (gather's gradient)
// ---------------------------------------------------------------------------------------------------------------

function unsortedSegmentSum(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { numSegments } = (args.attrs ?? {}) as unknown as UnsortedSegmentSumAttrs;
  const { x, segmentIds } = args.inputs;
  if (x == null || segmentIds == null) {
    throw new Error("wasm UnsortedSegmentSum: expects inputs x and segmentIds");
  }
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(`wasm UnsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`);
  }
  // segmentIds' shape is a prefix of x's: each id covers one slice of `inner` elements.
  const segments = tf.util.sizeFromShape(segmentIds.shape);
  const inner = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const xValues = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  const out = x.dtype === "int32" ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let s = 0; s < segments; s++) {
    const id = ids[s] ?? -1;
    if (id < 0 || id >= numSegments) continue; // TensorFlow drops ids outside [0, numSegments)
    const from = s * inner;
    const to = id * inner;
    for (let e = 0; e < inner; e++) out[to + e] = (out[to + e] ?? 0) + (xValues[from + e] ?? 0);
  }
  return backend.makeOutput(outShape, x.dtype, undefined, out);
}

// ---------------------------------------------------------------------------------------------------------------
// BatchMatMul with transposed operands
// ---------------------------------------------------------------------------------------------------------------
//
// The stock wasm BatchMatMul hands only transposeA = transposeB = false (batch 1) to XNNPACK; a transposed operand
// drops it to a plain loop 10-25x slower. That is exactly what a dense layer's backward pass asks for:
// dx = dy * W^T (transposeB) and dW = x^T * dy (transposeA). So run the stock kernel untransposed on operands
// transposed explicitly by the wasm Transpose kernel (1.6M floats in about 1.5 ms), in whichever of two
// equivalent forms moves fewer floats:
//   direct:  C   = op(A) * op(B)                      transposing the operands that are transposed;
//   swapped: C^T = op(B)^T * op(A)^T, then C = (C^T)^T  transposing the operands that are NOT, and C.
// XNNPACK also repacks its right-hand operand on every call (a new tensor each training step), so that counts too.
// For dx = dy[64, 512] * W[3146, 512]^T the swapped form moves 0.3M floats instead of 3.2M.

/** The stock wasm BatchMatMul, captured at import (before any replacement); the wrapper below calls it. */
const stockBatchMatMul = tf.getKernel("BatchMatMul", BACKEND) as KernelConfig | undefined;

function batchMatMul(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const attrs = args.attrs ?? {};
  const { a, b } = args.inputs;
  const stock = stockBatchMatMul?.kernelFunc;
  if (stock === undefined) throw new Error("wasm BatchMatMul: the stock wasm kernel was not registered");
  if (a == null || b == null) throw new Error("wasm BatchMatMul: expects inputs a and b");
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  const batch = (shape: number[]) => tf.util.sizeFromShape(shape.slice(0, -2));
  // Batched products (batch > 1) take the stock loop either way: leave them as they are.
  if (batch(a.shape) !== 1 || batch(b.shape) !== 1) return stock(args) as TensorInfo;
  const sizeA = tf.util.sizeFromShape(a.shape);
  const sizeB = tf.util.sizeFromShape(b.shape);
  const rows = a.shape[transposeA ? a.shape.length - 1 : a.shape.length - 2] ?? 0; // C is [rows, cols]
  const cols = b.shape[transposeB ? b.shape.length - 2 : b.shape.length - 1] ?? 0;
  const k = a.shape[transposeA ? a.shape.length - 2 : a.shape.length - 1] ?? 0;
  const blas =
    a.dtype === "float32" && b.dtype === "float32" && rows > 0 && cols > 0 && k > 0 && attrs.activation == null && args.inputs.bias == null ? native() : null;
  if (blas) {
    const out = backend.makeOutput([...a.shape.slice(0, -2), rows, cols], "float32");
    blas.sgemm(heap(backend, a), heap(backend, b), heap(backend, out), rows, cols, k, transposeA, transposeB, false);
    return out;
  }
  // A product with one row or one column (a dense layer with one output, its gradients) is a few dot products:
  // XNNPACK would pack an operand and tile for a single output lane; one pass in JavaScript is faster.
  if (rows === 1 || cols === 1) return vectorProduct(backend, a, b, transposeA, transposeB, rows, cols);
  const pack = strategy.packCost;
  const costDirect = (transposeA ? sizeA : 0) + (transposeB ? sizeB : 0) + pack * sizeB;
  const costSwapped = (transposeA ? 0 : sizeA) + (transposeB ? 0 : sizeB) + pack * sizeA + rows * cols;
  if (!transposeA && !transposeB && costDirect <= costSwapped) return stock(args) as TensorInfo;
  const swapLastTwo = (t: TensorInfo) => {
    const rank = t.shape.length;
    return { perm: [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2] };
  };
  const plain = { ...attrs, transposeA: false, transposeB: false };
  const temps = new Temporaries(backend);
  let result: TensorInfo | undefined;
  try {
    if (costDirect <= costSwapped) {
      const aPlain = transposeA ? temps.run("Transpose", { x: a }, swapLastTwo(a)) : a; // [.., rows, k]
      const bPlain = transposeB ? temps.run("Transpose", { x: b }, swapLastTwo(b)) : b; // [.., k, cols]
      result = temps.add(stock({ inputs: { a: aPlain, b: bPlain }, backend, attrs: plain }) as TensorInfo);
    } else {
      const left = transposeB ? b : temps.run("Transpose", { x: b }, swapLastTwo(b)); // op(B)^T [.., cols, k]
      const right = transposeA ? a : temps.run("Transpose", { x: a }, swapLastTwo(a)); // op(A)^T [.., k, rows]
      const cT = temps.add(stock({ inputs: { a: left, b: right }, backend, attrs: plain }) as TensorInfo);
      result = temps.run("Transpose", { x: cT }, swapLastTwo(cT)); // [.., rows, cols]
    }
    return result;
  } finally {
    temps.release(result);
  }
}

/**
 * C = op(A)·op(B) when C has one row or one column (batch 1), in one pass, float64 accumulators rounded once.
 * op(A) is [rows, k], op(B) is [k, cols]; A is stored [k, rows] when transposed, B [cols, k].
 */
function vectorProduct(backend: BackendWasm, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, rows: number, cols: number): TensorInfo {
  assertFloat32(a, "a", "BatchMatMul");
  assertFloat32(b, "b", "BatchMatMul");
  const k = a.shape[transposeA ? a.shape.length - 2 : a.shape.length - 1] ?? 0;
  const outShape = [...a.shape.slice(0, -2), rows, cols];
  const out = backend.makeOutput(outShape, "float32");
  // Views after the allocation: growing the wasm memory detaches views made before it.
  const A = backend.typedArrayFromHeap(a) as Float32Array;
  const B = backend.typedArrayFromHeap(b) as Float32Array;
  const C = backend.typedArrayFromHeap(out) as Float32Array;
  if (cols === 1) {
    // B is a vector of k (its layout does not matter with one column).
    if (!transposeA) {
      for (let r = 0; r < rows; r++) C[r] = dot(A, r * k, B, k);
    } else {
      const acc = new Float64Array(rows);
      for (let i = 0; i < k; i++) {
        const w = B[i]!;
        const base = i * rows;
        for (let r = 0; r < rows; r++) acc[r]! += A[base + r]! * w;
      }
      C.set(acc);
    }
  } else {
    // rows === 1: A is a vector of k.
    if (transposeB) {
      for (let c = 0; c < cols; c++) C[c] = dot(B, c * k, A, k);
    } else {
      const acc = new Float64Array(cols);
      for (let i = 0; i < k; i++) {
        const u = A[i]!;
        const base = i * cols;
        for (let c = 0; c < cols; c++) acc[c]! += B[base + c]! * u;
      }
      C.set(acc);
    }
  }
  return out;
}

/** Σ x[from + i] · v[i] for i < n, in four float64 accumulators. */
function dot(x: Float32Array, from: number, v: Float32Array, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[from + i]! * v[i]!;
    s1 += x[from + i + 1]! * v[i + 1]!;
    s2 += x[from + i + 2]! * v[i + 2]!;
    s3 += x[from + i + 3]! * v[i + 3]!;
  }
  for (; i < n; i++) s0 += x[from + i]! * v[i]!;
  return s0 + s1 + (s2 + s3);
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2D on the native engine
// ---------------------------------------------------------------------------------------------------------------
//
// y[n·oh·ow, co] = cols[n·oh·ow, kh·kw·ci] · W[kh·kw·ci, co]: the filter in tfjs's HWIO layout is already the
// right-hand matrix. Without the native module (or with other attrs: dilations, NCHW, a fused bias or
// activation) the stock XNNPACK kernel runs.

const stockConv2D = tf.getKernel("Conv2D", BACKEND) as KernelConfig | undefined;

function conv2D(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const stock = stockConv2D?.kernelFunc;
  if (stock === undefined) throw new Error("wasm Conv2D: the stock wasm kernel was not registered");
  const { x, filter } = args.inputs;
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DAttrs;
  const dilations = attrs.dilations ?? 1;
  const plainAttrs = (attrs.dataFormat ?? "NHWC") === "NHWC" && (Array.isArray(dilations) ? dilations.every((d) => d === 1) : dilations === 1);
  const blas = x != null && filter != null && x.dtype === "float32" && filter.dtype === "float32" && plainAttrs && x.shape.length === 4 ? native() : null;
  if (blas === null || x == null || filter == null) return stock(args) as TensorInfo;
  const filterShape = shape4(filter, "filter");
  const info = tf.backend_util.computeConv2DInfo(shape4(x, "x"), filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, "channelsLast");
  const [kh, kw, ci, co] = filterShape;
  const m = info.batchSize * info.outHeight * info.outWidth;
  if (m * co === 0 || kh * kw * ci === 0) return zeros(backend, [info.batchSize, info.outHeight, info.outWidth, co]);
  const out = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, co], "float32");
  const cols = scratchFloats(m * kh * kw * ci);
  blas.im2col(heap(backend, x), cols, ...nativeGeometry(info));
  blas.sgemm(cols, heap(backend, filter), heap(backend, out), m, co, kh * kw * ci, false, false, false);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Sum and Mean over the leading axes
// ---------------------------------------------------------------------------------------------------------------
//
// Training reduces over the leading axes all the time: every bias gradient sums dy over [batch, H, W], and
// BatchNormalization's moments and their gradients average over the same axes. The stock wasm kernels first
// transpose the tensor so that the reduced axes are innermost, then sum each row: for a [64, 14, 14, 32]
// activation that is a full copy and 32 strided passes, 1.2 ms a call, 21 calls per iteration. Summed in place
// instead, row after row into one accumulator per kept value, it is one sequential pass. The accumulators are
// float64 (as the cpu backend's), rounded to float32 once at the end. Any other reduction goes to the stock kernel.

const stockSum = tf.getKernel("Sum", BACKEND) as KernelConfig | undefined;
const stockMean = tf.getKernel("Mean", BACKEND) as KernelConfig | undefined;

/** The count of leading axes `axis` names when it names exactly the axes 0..k-1 (k ≥ 1) of a rank-`rank` tensor, else 0. */
export function leadingAxes(axis: number | number[] | undefined, rank: number): number {
  if (axis == null) return rank; // every axis
  const list = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a));
  const unique = [...new Set(list)].sort((x, y) => x - y);
  if (unique.length === 0 || unique.some((a, i) => a !== i) || unique.at(-1)! >= rank) return 0;
  return unique.length;
}

function reduceLeadingOrStock(args: KernelArgs, kind: "Sum" | "Mean", stock: KernelConfig | undefined): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs;
  if (stock === undefined) throw new Error(`wasm ${kind}: the stock wasm kernel was not registered`);
  if (x == null) throw new Error(`wasm ${kind}: expects input x`);
  const attrs = (args.attrs ?? {}) as { axis?: number | number[]; keepDims?: boolean };
  const rank = x.shape.length;
  const k = leadingAxes(attrs.axis, rank);
  if (x.dtype !== "float32" || rank === 0 || k === 0) return stock.kernelFunc(args) as TensorInfo;
  const outer = tf.util.sizeFromShape(x.shape.slice(0, k));
  const inner = tf.util.sizeFromShape(x.shape.slice(k));
  const outShape = attrs.keepDims === true ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  const out = backend.makeOutput(outShape, "float32");
  // Views after the allocation: growing the wasm memory detaches views made before it.
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const os = backend.typedArrayFromHeap(out) as Float32Array;
  sumColumns(xs, outer, inner, os, kind === "Mean" ? outer : 1);
  return out;
}

/**
 * out[c] = (sum over r of x[r * inner + c]) / divisor, for x of [outer, inner]. Eight columns at a time in eight
 * float64 locals (registers), one pass down the rows per block: 4x faster here than one accumulator array.
 */
export function sumColumns(x: Float32Array, outer: number, inner: number, out: Float32Array, divisor = 1): void {
  const end = outer * inner;
  let c0 = 0;
  for (; c0 + 8 <= inner; c0 += 8) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let s4 = 0;
    let s5 = 0;
    let s6 = 0;
    let s7 = 0;
    for (let i = c0; i < end; i += inner) {
      s0 += x[i]!;
      s1 += x[i + 1]!;
      s2 += x[i + 2]!;
      s3 += x[i + 3]!;
      s4 += x[i + 4]!;
      s5 += x[i + 5]!;
      s6 += x[i + 6]!;
      s7 += x[i + 7]!;
    }
    out[c0] = s0 / divisor;
    out[c0 + 1] = s1 / divisor;
    out[c0 + 2] = s2 / divisor;
    out[c0 + 3] = s3 / divisor;
    out[c0 + 4] = s4 / divisor;
    out[c0 + 5] = s5 / divisor;
    out[c0 + 6] = s6 / divisor;
    out[c0 + 7] = s7 / divisor;
  }
  for (; c0 < inner; c0++) {
    let sum = 0;
    for (let i = c0; i < end; i += inner) sum += x[i]!;
    out[c0] = sum / divisor;
  }
}

const sum = (args: KernelArgs): TensorInfo => reduceLeadingOrStock(args, "Sum", stockSum);
const mean = (args: KernelArgs): TensorInfo => reduceLeadingOrStock(args, "Mean", stockMean);

// ---------------------------------------------------------------------------------------------------------------
// LeakyReLU and its gradient
// ---------------------------------------------------------------------------------------------------------------
//
// The stock wasm LeakyRelu and the gradient tfjs builds for it (where(greater(x, 0), dy, dy·α): a Greater against
// a broadcast scalar, a Multiply and a Select) run 4-6 ns per value here; one pass in JavaScript runs under 1 ns.
// Same float32 results: x or fround(x·α) forward, dy or fround(dy·α) backward, α rounded to float32 as the
// stock kernels pass it.

export const LEAKY_RELU_GRAD = "GanStudioLeakyReluGrad";

function leakyRelu(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs;
  if (x == null) throw new Error("wasm LeakyRelu: expects input x");
  assertFloat32(x, "x", "LeakyRelu");
  const alpha = Math.fround(Number(args.attrs?.alpha));
  const out = backend.makeOutput(x.shape, "float32");
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const ys = backend.typedArrayFromHeap(out) as Float32Array;
  // x · (x > 0 ? 1 : α), the choice by table lookup: signs are random, and a branch mispredicted on every
  // other value costs 4x the loop (x · 1 is x, exactly; -0 and NaN come out as the stock kernel's).
  const factor = new Float64Array([alpha, 1]);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    ys[i] = v * factor[((v > 0) as unknown as number) | 0]!;
  }
  return out;
}

function leakyReluGrad(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, x } = args.inputs;
  if (dy == null || x == null) throw new Error(`wasm ${LEAKY_RELU_GRAD}: expects inputs dy and x`);
  assertFloat32(dy, "dy", LEAKY_RELU_GRAD);
  assertFloat32(x, "x", LEAKY_RELU_GRAD);
  if (!tf.util.arraysEqual(dy.shape, x.shape)) throw new Error(`wasm ${LEAKY_RELU_GRAD}: dy [${dy.shape.join(", ")}] and x [${x.shape.join(", ")}] differ`);
  const alpha = Math.fround(Number(args.attrs?.alpha));
  const out = backend.makeOutput(x.shape, "float32");
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const dxs = backend.typedArrayFromHeap(out) as Float32Array;
  const factor = new Float64Array([alpha, 1]); // by table lookup, as in leakyRelu
  for (let i = 0; i < xs.length; i++) dxs[i] = dys[i]! * factor[((xs[i]! > 0) as unknown as number) | 0]!;
  return out;
}

export const RELU_GRAD = "GanStudioReluGrad";

/** ReLU's gradient dy · step(x) in one pass (tfjs: Step, Cast, Multiply); NaN in x gives NaN, as step(NaN) does. */
function reluGrad(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, x } = args.inputs;
  if (dy == null || x == null) throw new Error(`wasm ${RELU_GRAD}: expects inputs dy and x`);
  assertFloat32(dy, "dy", RELU_GRAD);
  assertFloat32(x, "x", RELU_GRAD);
  if (!tf.util.arraysEqual(dy.shape, x.shape)) throw new Error(`wasm ${RELU_GRAD}: dy [${dy.shape.join(", ")}] and x [${x.shape.join(", ")}] differ`);
  const out = backend.makeOutput(x.shape, "float32");
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const dxs = backend.typedArrayFromHeap(out) as Float32Array;
  // By table lookup, as in leakyRelu: [x ≤ 0, x > 0, NaN, NaN]. (A `v === v ? … : NaN` costs 5x the loop.)
  const factor = new Float64Array([0, 1, Number.NaN, Number.NaN]);
  const bit = (b: boolean): number => (b as unknown as number) | 0;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    dxs[i] = dys[i]! * factor[bit(v > 0) + (bit(Number.isNaN(v)) << 1)]!;
  }
  return out;
}

/** ReLU's gradient: this module's one-pass kernel on wasm, tfjs's own dy · step(x) everywhere else. */
const reluGradient: tf.GradConfig = {
  kernelName: "Relu",
  inputsToSave: ["x"],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    const g = dy as tf.Tensor;
    if (tf.getBackend() !== BACKEND) return { x: () => tf.mul(g, tf.cast(tf.step(x!), "float32")) };
    return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: g, x: x! }) as tf.Tensor };
  },
};

/**
 * LeakyRelu's gradient (the registry is one for every backend): this module's one-pass kernel on wasm, and
 * everywhere else tfjs's own composite, where(x > 0, dy, dy·α).
 */
const leakyReluGradient: tf.GradConfig = {
  kernelName: "LeakyRelu",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const alpha = (attrs as { alpha: number }).alpha;
    const g = dy as tf.Tensor;
    if (tf.getBackend() !== BACKEND) return { x: () => tf.where(tf.greater(x!, 0), g, tf.mul(g, alpha)) };
    return { x: () => tf.engine().runKernel(LEAKY_RELU_GRAD, { dy: g, x: x! }, { alpha }) as tf.Tensor };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------------------------

/** The kernel functions this module registers, by kernel name (tests compare `tf.getKernel` against them). */
export const wasmTrainingKernelFuncs: Readonly<Record<string, KernelFunc>> = Object.freeze({
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  UnsortedSegmentSum: unsortedSegmentSum,
  BatchMatMul: batchMatMul,
  Sum: sum,
  Mean: mean,
  Conv2D: conv2D,
  LeakyRelu: leakyRelu,
  [LEAKY_RELU_GRAD]: leakyReluGrad,
  [RELU_GRAD]: reluGrad,
});

/** Set-up functions of the stock kernels that ours still call (they run at `tf.setBackend('wasm')`). */
const setupFuncs: Readonly<Record<string, KernelConfig["setupFunc"]>> = {
  BatchMatMul: stockBatchMatMul?.setupFunc,
  Sum: stockSum?.setupFunc,
  Mean: stockMean?.setupFunc,
  Conv2D: stockConv2D?.setupFunc,
};

/**
 * Registers the training kernels for backend 'wasm', replacing the stock `Conv2DBackpropInput` and wrapping the
 * stock `BatchMatMul`. Idempotent: a second call changes nothing. Call it before or after
 * `tf.setBackend('wasm')`: the wrapped BatchMatMul keeps the stock set-up function, and the other kernels need
 * none (they find the backend's `Conv2D`, `Transpose` and `Slice` kernels when they run).
 */
export function registerWasmTrainingKernels(): void {
  for (const gradient of [leakyReluGradient, reluGradient]) {
    if (tf.getGradient(gradient.kernelName) !== gradient) tf.registerGradient(gradient);
  }
  for (const [kernelName, kernelFunc] of Object.entries(wasmTrainingKernelFuncs)) {
    const current = tf.getKernel(kernelName, BACKEND) as KernelConfig | undefined;
    if (current?.kernelFunc === kernelFunc) continue;
    // registerKernel never replaces a kernel (it only warns), so the stock one must go first.
    if (current != null) tf.unregisterKernel(kernelName, BACKEND);
    const setupFunc = setupFuncs[kernelName];
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc, ...(setupFunc ? { setupFunc } : {}) });
  }
}

/**
 * The stock wasm configs of the kernels this module replaces or wraps, captured at import (before anything
 * replaced them), for benchmarks and tests that compare against them. A stock `setupFunc` runs at
 * `tf.setBackend('wasm')` only while its kernel is registered; after a replacement, call `setupFunc(backend)`
 * yourself before calling the stock `kernelFunc`.
 */
export const stockWasmKernels: Readonly<Record<"Conv2DBackpropInput" | "BatchMatMul", KernelConfig | undefined>> = Object.freeze({
  Conv2DBackpropInput: tf.getKernel("Conv2DBackpropInput", BACKEND) as KernelConfig | undefined,
  BatchMatMul: stockBatchMatMul,
});
