// Builds GAN Studio's native kernels (native/gan-blas.cc: OpenBLAS's sgemm, im2col / col2im) into
// build/native/gan-blas.node for the wasm backend's training kernels (lib/gan/backends/native-blas.ts). Run by
// `npm ci` (postinstall) and by `npm run build:native`. Optional: without g++, Node's headers or OpenBLAS
// (Debian: apt-get install g++ libopenblas-dev) it says why and exits 0, and training keeps the wasm kernels;
// GAN_NATIVE_REQUIRED=1 (CI) turns that into a failure.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const source = path.join(root, "native/gan-blas.cc");
const out = path.join(root, "build/native/gan-blas.node");
const required = process.env.GAN_NATIVE_REQUIRED === "1";

function skip(why) {
  const message = `native kernels not built: ${why}. Training runs on the wasm kernels alone (1.5-1.8x slower on the built-in networks, scripts/bench-cpu-options.sh).`;
  if (required) {
    console.error(`build-native: ${message}`);
    process.exit(1);
  }
  console.warn(`build-native: ${message}`);
  process.exit(0);
}

if (process.env.GAN_NATIVE === "0") skip("GAN_NATIVE=0");
if (process.platform !== "linux") skip(`the build script knows Linux only (this is ${process.platform})`);
const headers = [path.join(path.dirname(process.execPath), "../include/node"), "/usr/include/node"].find((d) => existsSync(path.join(d, "node_api.h")));
if (!headers) skip("Node's headers (node_api.h) are missing");
const cblas = ["/usr/include/x86_64-linux-gnu/cblas.h", "/usr/include/aarch64-linux-gnu/cblas.h", "/usr/include/cblas.h", "/usr/include/openblas/cblas.h"].find(
  (f) => existsSync(f),
);
if (!cblas) skip("OpenBLAS's headers are missing (apt-get install libopenblas-dev)");
if (spawnSync("g++", ["--version"]).status !== 0) skip("g++ is missing (apt-get install g++)");

mkdirSync(path.dirname(out), { recursive: true });
const args = ["-shared", "-fPIC", "-O3", "-fopenmp", `-I${headers}`, `-I${path.dirname(cblas)}`, source, "-o", out, "-lopenblas"];
const r = spawnSync("g++", args, { stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });
if (r.status !== 0) skip(`g++ failed: ${(r.stderr || "").trim().split("\n").slice(-3).join(" | ")}`);
console.log(`build-native: built ${path.relative(root, out)} (OpenBLAS from ${path.dirname(cblas)})`);
