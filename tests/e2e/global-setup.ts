/**
 * Builds the app when needed (no .next/BUILD_ID, or app sources newer than it), then starts one server for the
 * whole run: production mode, 127.0.0.1, the port from playwright.config.ts, a temporary database and data
 * folder, trainers on wasm.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LOG, startServer } from "./server";

const ROOT = path.resolve(import.meta.dirname, "../..");

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

function buildIfNeeded(): void {
  const buildId = path.join(ROOT, ".next", "BUILD_ID");
  const sources = ["app", "lib/protocol", "next.config.js", "postcss.config.mjs", "package-lock.json"].map((p) => path.join(ROOT, p)).filter(existsSync);
  const newest = Math.max(...sources.map(newestMtime));
  if (existsSync(buildId) && statSync(buildId).mtimeMs >= newest) return;
  const started = Date.now();
  console.log("[e2e] building the app (next build)…");
  execFileSync(path.join(ROOT, "node_modules", ".bin", "next"), ["build"], {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
  });
  console.log(`[e2e] built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export default async function globalSetup(): Promise<void> {
  buildIfNeeded();
  mkdirSync(path.join(ROOT, "test-results", "screenshots"), { recursive: true });
  rmSync(LOG, { force: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-e2e-"));
  const env = {
    NODE_ENV: "production",
    PORT: process.env.E2E_PORT!,
    HOST: "127.0.0.1",
    DATABASE_URL: `file:${path.join(tmp, "e2e.db")}`,
    DATA_DIR: tmp,
    GAN_BACKEND: "wasm",
    SESSION_SECRET: "e2e-session-secret-for-tests-only-0123456789",
    // Every e2e page signs up from 127.0.0.1: more than the default 10 sign-ups per address per hour.
    GAN_SIGNUP_PER_IP: "1000",
    // Two trainer slots whatever the machine (tests/e2e/quotas.spec.ts fills them).
    GAN_MAX_LIVE_TRAINERS: "2",
    NEXT_TELEMETRY_DISABLED: "1",
  };
  const started = Date.now();
  const state = await startServer(env, tmp);
  console.log(`[e2e] server on ${state.url} in ${((Date.now() - started) / 1000).toFixed(1)} s (log: ${path.relative(ROOT, LOG)})`);
}
