/**
 * End-to-end tests of the web app against the real server (Next pages, tRPC, socket.io, trainer processes on
 * wasm), built once and started by tests/e2e/global-setup.ts on a free port with a throwaway database.
 * Debian's /usr/bin/chromium is used when present (Playwright cannot download browsers offline); elsewhere run
 * `npx playwright install chromium` first.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { defineConfig, devices } from "@playwright/test";

// One port for the whole run: chosen here once and inherited by the workers through the environment.
if (!process.env.E2E_PORT) {
  const script = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  process.env.E2E_PORT = execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }).trim();
}
const baseURL = `http://127.0.0.1:${process.env.E2E_PORT}`;
const chromium = process.env.PLAYWRIGHT_CHROMIUM ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "tests/e2e",
  testMatch: "**/*.spec.ts",
  outputDir: "test-results/artifacts",
  // One server with live trainers on a small machine: one test at a time.
  workers: 1,
  fullyParallel: false,
  timeout: 120_000,
  expect: { timeout: 20_000 },
  reporter: [["list"]],
  globalSetup: "./tests/e2e/global-setup.ts",
  globalTeardown: "./tests/e2e/global-teardown.ts",
  use: {
    ...devices["Desktop Chrome"],
    baseURL,
    viewport: { width: 1280, height: 800 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      ...(existsSync(chromium) ? { executablePath: chromium } : {}),
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
