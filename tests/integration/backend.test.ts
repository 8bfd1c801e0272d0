/**
 * Backend choice: forced, unknown, unavailable, and "auto" falling through to one that works.
 * Each case runs in a fresh process, since a process trains on one backend.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseBackendName } from "../../lib/gan/backend";

const root = path.resolve(__dirname, "../..");

function pick(requested: string): { code: number | null; out: string; err: string } {
  const code = `import { initBackend } from "./lib/gan/backend.ts";
    initBackend(${JSON.stringify(requested)}).then((b) => console.log(JSON.stringify(b)), (e) => { console.error(e.name + ": " + e.message); process.exit(3); });`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: root, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const installed = (pkg: string) => {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
};

describe("backend choice", () => {
  it("parses names and refuses unknown ones", () => {
    expect(parseBackendName(undefined)).toBe("auto");
    expect(parseBackendName(" WASM ")).toBe("wasm");
    expect(() => parseBackendName("tpu")).toThrow('unknown backend "tpu": choose one of tensorflow, webgpu, wasm, cpu or auto');
  });

  it("a forced backend runs, with what it runs on", () => {
    const r = pick("wasm");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ name: "wasm", skipped: [] });
  });

  it.skipIf(installed("@tensorflow/tfjs-node") || installed("@tensorflow/tfjs-node-gpu"))("a forced backend that is not installed is a clear error", () => {
    const r = pick("tensorflow");
    expect(r.code).toBe(3);
    expect(r.err).toContain(
      "BackendError: backend tensorflow is not available: tensorflow: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed",
    );
  });

  it("auto takes the fastest that works and says why it passed over the others", () => {
    const r = pick("auto");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.out) as { name: string; skipped: { backend: string; reason: string }[] };
    const order = ["tensorflow", "webgpu", "wasm", "cpu"];
    // Everything before the chosen backend was tried and skipped, with a reason.
    expect(info.skipped.map((s) => s.backend)).toEqual(order.slice(0, order.indexOf(info.name)));
    for (const s of info.skipped) expect(s.reason.length).toBeGreaterThan(10);
  });
});
