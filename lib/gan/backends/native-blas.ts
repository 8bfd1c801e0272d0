/**
 * The native kernels (native/gan-blas.cc, built by `npm ci` through scripts/build-native.mjs into
 * build/native/gan-blas.node): OpenBLAS's sgemm and the im2col / col2im moves, for lib/gan/backends/wasm-kernels.ts.
 *
 * Why another engine for the hot kernels: the wasm backend's XNNPACK runs 128-bit SIMD and packs the right-hand
 * operand of every product anew (the weights change at every step); OpenBLAS (the BLAS PyTorch's CPU build uses)
 * takes operands as they are, transposed or not. `npx tsx scripts/bench-products.ts` (2026-12-01, 2 threads, new
 * weights at every call): x[64, 3146]·W[3146, 512] 37.65 ms on XNNPACK, 16.84 ms packing the smaller operand,
 * 7.39 ms on OpenBLAS.
 *
 * Optional: where the module is not built (no compiler, no OpenBLAS, another OS) or GAN_NATIVE=0, the kernels
 * keep their wasm paths and the backend's description says why.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface NativeBlas {
  /** c[M, N] (+)= op(a)[M, K] · op(b)[K, N], row-major; a is [K, M] when transA, b is [N, K] when transB. */
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void;
  /** cols[n·oh·ow, kh·kw·ci] from x[n, h, w, ci] (NHWC), zeros outside the image. */
  im2col(x: Float32Array, cols: Float32Array, ...geometry: Geometry): void;
  /** dx[n, h, w, ci] = the sum of cols back into the image (the adjoint of im2col). */
  col2im(cols: Float32Array, dx: Float32Array, ...geometry: Geometry): void;
  /** Threads for OpenBLAS and the moves; returns what OpenBLAS reports. */
  setThreads(n: number): number;
}

/** n, h, w, ci, kh, kw, strideH, strideW, padTop, padLeft, outH, outW. */
export type Geometry = [number, number, number, number, number, number, number, number, number, number, number, number];

export const NATIVE_MODULE = fileURLToPath(new URL("../../../build/native/gan-blas.node", import.meta.url));

let loaded: { blas: NativeBlas | null; reason: string } | null = null;

/** The native kernels, or null with the reason they are not used. Loads once. */
export function nativeBlas(): { blas: NativeBlas | null; reason: string } {
  if (loaded) return loaded;
  if (process.env.GAN_NATIVE === "0") loaded = { blas: null, reason: "GAN_NATIVE=0" };
  else if (!existsSync(NATIVE_MODULE)) loaded = { blas: null, reason: "build/native/gan-blas.node is not built (npm run build:native says why)" };
  else {
    try {
      // Read by OpenBLAS and libgomp when the module loads them. Idle threads spin for 2^28 cycles by default,
      // and on a 2-core machine a spinning thread takes the core the JavaScript thread needs for the kernels in
      // between: 2^12 cycles measured best here (NNC's network: 305 ms per iteration, 379 ms at 2^4 and
      // 462 ms with libgomp's spinning too).
      process.env.OPENBLAS_THREAD_TIMEOUT ??= "12";
      process.env.OMP_WAIT_POLICY ??= "PASSIVE";
      const blas = createRequire(import.meta.url)(NATIVE_MODULE) as NativeBlas;
      loaded = { blas, reason: "" };
    } catch (e) {
      loaded = { blas: null, reason: `build/native/gan-blas.node does not load: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
    }
  }
  return loaded;
}

/** A scratch buffer outside the wasm heap for im2col columns, grown on demand and reused. */
let scratch = new Float32Array(0);
export function scratchFloats(size: number): Float32Array {
  if (scratch.length < size) scratch = new Float32Array(Math.max(size, Math.ceil(scratch.length * 1.25)));
  return scratch.subarray(0, size);
}
