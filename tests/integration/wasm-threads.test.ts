/**
 * The wasm backend on several threads (lib/gan/backends/wasm-threads.ts) and the native kernels
 * (lib/gan/backends/native-blas.ts), in real child processes: the backend starts on the threads asked for and says
 * what runs; on XNNPACK alone it trains bit for bit as on one thread (XNNPACK splits output tiles, never a sum); with
 * OpenBLAS (whose split depends on the thread count) two runs on the same threads are bit for bit the same, which
 * is what resuming needs; a finished process exits by itself; a bad GAN_WASM_THREADS is a clear error.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_WASM_THREADS, wasmThreadsWanted } from "../../lib/gan/backends/wasm-threads";

const root = path.resolve(__dirname, "../..");
const child = path.join(root, "tests/helpers/wasm-train-child.ts");

interface ChildResult {
  detail: string;
  losses: { Real: number; Fake: number; GReal: number }[];
  weights: string;
  tensors: number;
}

/** Trains `iterations` steps in a fresh process on `threads` threads; the process must exit by itself. */
function train(threads: string, spec: string, batch: number, iterations: number, env: Record<string, string> = {}): ChildResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", child, spec, String(batch), String(iterations)], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000, // a process the threads kept alive would hit this
    env: { ...process.env, GAN_WASM_THREADS: threads, ...env },
  });
  expect(r.error).toBeUndefined();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as ChildResult;
}

describe("threads wanted", () => {
  it("defaults to every core (at most 8), takes 1 to 8 or auto, and refuses anything else by name", () => {
    expect(wasmThreadsWanted(undefined)).toBeGreaterThanOrEqual(1);
    expect(wasmThreadsWanted("auto")).toBe(wasmThreadsWanted(""));
    expect(wasmThreadsWanted(" 3 ")).toBe(3);
    for (const bad of ["0", "9", "2.5", "two", "-1"]) {
      expect(() => wasmThreadsWanted(bad)).toThrow(`GAN_WASM_THREADS must be a whole number from 1 to ${MAX_WASM_THREADS}, or auto; got "${bad}"`);
    }
  });

  it("a bad value stops the backend with that message instead of training on a guess", () => {
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `import { initBackend } from "./lib/gan/backend.ts"; initBackend("wasm").catch((e) => { console.error(e.message); process.exit(3); });`,
      ],
      { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, GAN_WASM_THREADS: "many" } },
    );
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('backend wasm is not available: wasm: GAN_WASM_THREADS must be a whole number from 1 to 8, or auto; got "many"');
  });
});

describe("training on 2 threads", () => {
  for (const [spec, batch] of [
    ["small-dcgan", 8],
    ["nnc-dcgan-with-label", 6],
  ] as const) {
    it(`${spec}, XNNPACK alone: the same losses and weights, bit for bit, as on 1 thread, and as many live tensors`, () => {
      const one = train("1", spec, batch, 3, { GAN_NATIVE: "0" });
      const two = train("2", spec, batch, 3, { GAN_NATIVE: "0" });
      expect(one.detail).toContain("1 thread,");
      expect(two.detail).toContain("2 threads,");
      expect(two.detail).toContain("native kernels not used: GAN_NATIVE=0");
      expect(two.losses).toEqual(one.losses);
      expect(two.weights).toBe(one.weights);
      expect(two.tensors).toBe(one.tensors);
    }, 240_000);

    it(`${spec}, with OpenBLAS: two runs on 2 threads give the same losses and weights, bit for bit, close to XNNPACK's`, () => {
      // The project builds the native kernels on install (scripts/build-native.mjs); GAN_NATIVE=0 opts out.
      const first = train("2", spec, batch, 3);
      expect(first.detail, "build/native/gan-blas.node must be built: npm run build:native").toContain("products and convolutions on OpenBLAS (2 threads)");
      const second = train("2", spec, batch, 3);
      expect(second.losses).toEqual(first.losses);
      expect(second.weights).toBe(first.weights);
      const xnnpack = train("2", spec, batch, 3, { GAN_NATIVE: "0" });
      xnnpack.losses.forEach((l, i) => {
        for (const k of ["Real", "Fake", "GReal"] as const) expect(Math.abs(l[k] - first.losses[i]![k]) / Math.abs(l[k])).toBeLessThan(1e-3);
      });
    }, 240_000);
  }
});
