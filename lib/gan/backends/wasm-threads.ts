/**
 * TensorFlow.js's wasm backend on every core under Node.
 *
 * tfjs 4.22 ships a multi-threaded build (`tfjs-backend-wasm-threaded-simd.wasm`: XNNPACK with a pthreadpool) but
 * never uses it in Node (tfjs issue #3830): its flag `WASM_HAS_MULTITHREAD_SUPPORT` is hard-wired false there, its
 * thread script is handed to `new Worker` as a blob: URL, which Node's worker_threads refuse, and the C++ side caps
 * the pool at `emscripten_num_logical_cores() / 2` (it assumes two hyper-threads per core), which is 1 on a 2-core
 * machine. This module starts that build itself, through Emscripten's documented hooks only:
 *
 * - `locateFile` gives the thread script as a file (./wasm-thread-worker.cjs) and the .wasm by path;
 * - `mainScriptUrlOrBlob` is the path of the build's own JavaScript, which each thread loads;
 * - `instantiateWasm` instantiates the module with `emscripten_num_logical_cores` answering twice the threads
 *   wanted, so that the cap lets exactly `threads` through;
 * then builds tfjs's own `BackendWasm` on it, registered under the name 'wasm': every kernel registered for
 * 'wasm' (the stock ones and lib/gan/backends/wasm-kernels.ts) runs unchanged, and XNNPACK's convolutions and
 * matrix products split their output tiles across the threads. XNNPACK parallelises over output tiles, never
 * over a sum, so results do not depend on the number of threads.
 *
 * Threads beyond the pool's are stopped (Emscripten pre-starts 8), and the pool's are unref'd so that a process
 * that is done exits as it would on one thread.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { BackendWasm, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";

/** Most threads the build can run: tfjs pre-creates 8 and its C++ side caps the pool there. */
export const MAX_WASM_THREADS = 8;

/** Threads wanted: GAN_WASM_THREADS (1–8, or "auto"), else every core this process may use, at most 8. */
export function wasmThreadsWanted(value: string | undefined = process.env.GAN_WASM_THREADS): number {
  const v = (value ?? "").trim().toLowerCase();
  if (v === "" || v === "auto") return Math.max(1, Math.min(MAX_WASM_THREADS, availableParallelism()));
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new RangeError(`GAN_WASM_THREADS must be a whole number from 1 to ${MAX_WASM_THREADS}, or auto; got "${value}"`);
  }
  return n;
}

/** What the Emscripten module exposes that this file uses (the build has no types). */
interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
}
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...args: number[]) => number;
  PThread: { unusedWorkers: NodeWorker[]; runningWorkers: NodeWorker[] };
  tfjs?: unknown;
}
type Factory = (config: Record<string, unknown>) => Promise<ThreadedModule>;
type Imports = { env: Record<string, unknown> };

const require = createRequire(import.meta.url);
const BUILD = "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js";
const WORKER = fileURLToPath(new URL("./wasm-thread-worker.cjs", import.meta.url));

let registered = 0;

/**
 * Replaces the 'wasm' backend's factory by the multi-threaded build on `threads` threads. Call before
 * `tf.setBackend('wasm')`; calling it again with the same count does nothing, with another count throws.
 * Throws (and changes nothing) when the thread script or the build is missing, e.g. in a bundle.
 */
export function registerThreadedWasmBackend(threads: number): void {
  if (registered === threads) return;
  if (registered !== 0) throw new Error(`the wasm backend is already registered on ${registered} threads`);
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_WASM_THREADS) {
    throw new RangeError(`threads must be 2 to ${MAX_WASM_THREADS}, got ${threads}`);
  }
  const build = require.resolve(BUILD);
  const wasmFile = join(dirname(build), "tfjs-backend-wasm-threaded-simd.wasm");
  for (const file of [WORKER, wasmFile]) if (!existsSync(file)) throw new Error(`multi-threaded wasm: ${file} is missing`);

  tf.removeBackend("wasm");
  tf.registerBackend(
    "wasm",
    async () => {
      const factory = require(build) as Factory;
      // Emscripten starts its threads with `new Worker(file)`, and a Worker inherits the process's execArgv: a
      // process started with flags a thread script cannot take (`node --input-type=module -e …`) would crash the
      // moment the threads start. The threads need none of them (plain CommonJS), so they get none while they start.
      const workerThreads = require("node:worker_threads") as { Worker: new (file: string, opts?: object) => unknown };
      const OriginalWorker = workerThreads.Worker;
      workerThreads.Worker = class extends (OriginalWorker as unknown as new (file: string, opts?: object) => object) {
        constructor(file: string, opts: object = {}) {
          super(file, { ...opts, execArgv: [] });
        }
      } as unknown as typeof OriginalWorker;
      const before = { uncaughtException: process.listeners("uncaughtException"), unhandledRejection: process.listeners("unhandledRejection") };
      let failed: (e: unknown) => void = () => {};
      const instantiateFailed = new Promise<never>((_, reject) => {
        failed = reject;
      });
      let module: ThreadedModule;
      try {
        module = await Promise.race([
          instantiateFailed,
          factory({
            locateFile: (path: string) => (path.endsWith(".worker.js") ? WORKER : path.endsWith(".wasm") ? wasmFile : join(dirname(build), path)),
            mainScriptUrlOrBlob: build,
            instantiateWasm: (imports: Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => {
              // The C++ side uses min(threads asked, logical cores / 2): answer so that it allows `threads`.
              imports.env.emscripten_num_logical_cores = () => 2 * threads;
              WebAssembly.instantiate(readFileSync(wasmFile), imports as unknown as WebAssembly.Imports).then(
                (r) => receive(r.instance, r.module),
                (e: unknown) => failed(e),
              );
              return {};
            },
          }),
        ]);
      } finally {
        workerThreads.Worker = OriginalWorker;
      }
      // Emscripten's Node glue rethrows every uncaught exception and rejection from listeners of its own, so a
      // crash prints its whole minified source line (60 kB) instead of the error: keep Node's own behaviour.
      for (const event of ["uncaughtException", "unhandledRejection"] as const) {
        for (const listener of process.listeners(event as "uncaughtException")) {
          if (!(before[event] as unknown[]).includes(listener)) process.removeListener(event as "uncaughtException", listener);
        }
      }
      // The bridge tfjs's own init() builds (tfjs-backend-wasm/src/backend_wasm.ts).
      module.tfjs = {
        init: module.cwrap("init", null, []),
        initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
        getThreadsCount: module.cwrap("get_threads_count", "number", []),
        registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
        disposeData: module.cwrap("dispose_data", null, ["number"]),
        dispose: module.cwrap("dispose", null, []),
      };
      setThreadsCount(threads);
      const backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
      // The pool's threads run for the life of the process; they must not keep a finished process alive.
      for (const w of module.PThread.runningWorkers) w.unref();
      for (const w of module.PThread.unusedWorkers.splice(0)) void w.terminate();
      return backend;
    },
    2,
  );
  registered = threads;
}

/** Threads XNNPACK runs on in the initialised wasm backend (1 for the single-threaded build). */
export function wasmThreadsRunning(): number {
  const backend = tf.findBackend("wasm") as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } } | null;
  return backend?.wasm?.tfjs?.getThreadsCount?.() ?? 1;
}
