/**
 * Picks the TensorFlow.js backend a run trains on: the fastest that works, in order
 *   tensorflow (tfjs-node-gpu / tfjs-node, only when the user installed one) → webgpu (Dawn) → wasm → cpu.
 * `GAN_BACKEND` (or the `backend` argument) forces one; an unknown or unavailable one is a clear error.
 */
import * as tf from "@tensorflow/tfjs-core";
import { registerTwoStageReductions } from "./backends/reductions";

export const BACKENDS = ["tensorflow", "webgpu", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKENDS)[number];

export class BackendError extends Error {
  constructor(
    message: string,
    readonly tried: { backend: BackendName; reason: string }[] = [],
  ) {
    super(message);
    this.name = "BackendError";
  }
}

export interface BackendInfo {
  /** The backend that runs: tensorflow, webgpu, wasm or cpu. */
  name: BackendName;
  /** What it runs on, e.g. the GPU adapter's name, "XNNPACK, SIMD, 1 thread". */
  detail: string;
  /** Backends tried before it and why each was passed over. */
  skipped: { backend: BackendName; reason: string }[];
}

let active: BackendInfo | null = null;

/**
 * Kernels that make training on a GPU backend faster: two-stage reductions (1,217 → 1,354 images/s for NNC's
 * network at batch 1,024 on an H200, docs/benchmarks.md).
 */
export function registerGpuTrainingKernels(backendName: string): void {
  registerTwoStageReductions(backendName);
}

/** Imports a module by a name the bundler and type checker need not resolve (optional dependencies). */
const importOptional = (name: string): Promise<unknown> => import(/* @vite-ignore */ name);

async function tryTensorflow(): Promise<string> {
  let lastError = "";
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      await importOptional(pkg);
      if (!(await tf.setBackend("tensorflow"))) throw new Error("setBackend('tensorflow') failed");
      return `libtensorflow via ${pkg}`;
    } catch (e) {
      lastError = `${pkg}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
    }
  }
  throw new Error(`neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed (${lastError})`);
}

async function tryWebgpu(): Promise<string> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    // In Node, Dawn (npm `webgpu`) provides navigator.gpu.
    const dawn = (await importOptional("webgpu")) as { create: (flags: string[]) => unknown; globals: object };
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    if (g.navigator) Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  }
  const gpu = g.navigator!.gpu as { requestAdapter: (o?: object) => Promise<{ info?: { description?: string; vendor?: string; device?: string } } | null> };
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("no WebGPU adapter found (no GPU, or its Vulkan/Metal/D3D12 driver lacks what Dawn needs)");
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) throw new Error("the webgpu backend failed to initialise");
  // GAN_WEBGPU_KERNELS=stock keeps tfjs's own kernels (to compare against them).
  if (process.env.GAN_WEBGPU_KERNELS !== "stock") registerGpuTrainingKernels("webgpu");
  const info = adapter.info;
  return [info?.vendor, info?.description || info?.device].filter(Boolean).join(" ") || "WebGPU adapter";
}

async function tryWasm(): Promise<string> {
  await import("@tensorflow/tfjs-backend-wasm");
  const { registerThreadedWasmBackend, wasmThreadsRunning, wasmThreadsWanted } = await import("./backends/wasm-threads");
  const threads = wasmThreadsWanted();
  let note = "";
  if (threads > 1) {
    try {
      registerThreadedWasmBackend(threads);
    } catch (e) {
      note = ` (multi-threaded build unavailable: ${e instanceof Error ? e.message : String(e)})`;
    }
  }
  if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend failed to initialise");
  const { registerWasmTrainingKernels } = await import("./backends/wasm-kernels");
  registerWasmTrainingKernels();
  const running = wasmThreadsRunning();
  const { nativeBlas } = await import("./backends/native-blas");
  const { blas, reason } = nativeBlas();
  const products = blas
    ? `, products and convolutions on OpenBLAS (${blas.setThreads(threads)} thread${threads === 1 ? "" : "s"})`
    : ` (native kernels not used: ${reason})`;
  return `XNNPACK, SIMD, ${running} thread${running === 1 ? "" : "s"}, with GAN Studio's training kernels${products}${note}`;
}

async function tryCpu(): Promise<string> {
  await import("@tensorflow/tfjs-backend-cpu");
  if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend failed to initialise");
  return "plain JavaScript (slow: for tests and as the last resort)";
}

const TRY: Record<BackendName, () => Promise<string>> = { tensorflow: tryTensorflow, webgpu: tryWebgpu, wasm: tryWasm, cpu: tryCpu };

/** Parses a backend name (e.g. from GAN_BACKEND); "auto" or empty means pick the fastest. */
export function parseBackendName(value: string | undefined): BackendName | "auto" {
  const v = (value ?? "").trim().toLowerCase();
  if (v === "" || v === "auto") return "auto";
  if ((BACKENDS as readonly string[]).includes(v)) return v as BackendName;
  throw new BackendError(`unknown backend "${value}": choose one of ${BACKENDS.join(", ")} or auto`);
}

/**
 * Initialises the backend once per process and returns what runs. With "auto", tries each in order and keeps
 * the first that works; a forced backend that does not work throws {@link BackendError} with the reason.
 */
export async function initBackend(requested: BackendName | "auto" | string | undefined = process.env.GAN_BACKEND): Promise<BackendInfo> {
  const want = parseBackendName(requested);
  if (active) {
    if (want !== "auto" && want !== active.name) {
      throw new BackendError(`this process already trains on ${active.name}; it cannot switch to ${want}`);
    }
    return active;
  }
  // TensorFlow.js's greeting about tfjs-node is noise here: the choice is reported by the run itself.
  tf.env().set("PROD", true);
  const order = want === "auto" ? BACKENDS : [want];
  const skipped: BackendInfo["skipped"] = [];
  for (const name of order) {
    try {
      const detail = await TRY[name]();
      await tf.ready();
      active = { name, detail, skipped };
      return active;
    } catch (e) {
      skipped.push({ backend: name, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  const why = skipped.map((s) => `${s.backend}: ${s.reason}`).join("; ");
  throw new BackendError(want === "auto" ? `no TensorFlow.js backend works here (${why})` : `backend ${want} is not available: ${why}`, skipped);
}

/** The backend initialised by {@link initBackend}, or null before it. */
export function activeBackend(): BackendInfo | null {
  return active;
}
