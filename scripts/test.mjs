// `npm test`: the formatter check, the linter and the import rules, the type check, then every Vitest suite (unit and integration), then the
// integration suites of the server again on PostgreSQL (GAN_TEST_DATABASE=postgresql: tests/helpers/env.ts), then the Playwright e2e suite, and a
// closing line "N passed, N failed" counted from the runners' JSON reports (so a run that ran nothing shows).
// `npm test -- --no-e2e` skips the browser suite.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

const out = path.resolve(".test-reports");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const noE2e = process.argv.includes("--no-e2e");
const run = (cmd, args, env = {}) => spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, ...env } }).status ?? 1;
const read = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null);
let passed = 0;
let failed = 0;
let skipped = 0;
const steps = [];
/** One Vitest pass (`files`: all when empty) as a step, its counts added from its JSON report. */
const vitestPass = (name, report, files = [], env = {}) => {
  const file = path.join(out, report);
  steps.push([name, run("npx", ["--no-install", "vitest", "run", ...files, "--reporter=default", "--reporter=json", `--outputFile.json=${file}`], env)]);
  const v = read(file);
  if (v) {
    passed += v.numPassedTests;
    failed += v.numFailedTests;
    skipped += (v.numPendingTests ?? 0) + (v.numTodoTests ?? 0);
  } else failed++;
};

// The formatter check and the linter (Biome), then the import rules (dependency-cruiser: the layers as checks).
const biome = run("npx", ["--no-install", "biome", "ci", "."]);
steps.push(["format and lint", biome]);
if (biome !== 0) failed++;
const imports = run("npx", [
  "--no-install",
  "depcruise",
  "app",
  "lib",
  "server",
  "scripts",
  "tests",
  "--config",
  ".dependency-cruiser.cjs",
  "--output-type",
  "err",
]);
steps.push(["import rules", imports]);
if (imports !== 0) failed++;
const tsc = run("npx", ["--no-install", "tsc", "--noEmit"]);
steps.push(["type check", tsc]);
if (tsc !== 0) failed++;
else {
  vitestPass("vitest", "vitest.json");
  // The server's integration suites once more with every server under test on PostgreSQL. Left out: the suites that
  // already run on both (store, db-schema, restart), the PostgreSQL-only ones (cluster, cluster-lease,
  // postgres-lost), storage-failure (a SQLite file that fills up; postgres-lost is its PostgreSQL counterpart), and
  // those that start no server.
  const onPostgres = ["abuse", "accounts", "activity", "config-limits", "datasets", "history", "members", "quotas", "server"].map(
    (name) => `tests/integration/${name}.test.ts`,
  );
  vitestPass("vitest on PostgreSQL", "vitest-postgresql.json", onPostgres, { GAN_TEST_DATABASE: "postgresql" });
  if (!noE2e) {
    const e2e = run("npx", ["--no-install", "playwright", "test", "--reporter=list,json"], { PLAYWRIGHT_JSON_OUTPUT_NAME: path.join(out, "e2e.json") });
    steps.push(["playwright", e2e]);
    const p = read(path.join(out, "e2e.json"));
    if (p?.stats) {
      passed += p.stats.expected + (p.stats.flaky ?? 0);
      failed += p.stats.unexpected;
      skipped += p.stats.skipped ?? 0;
    } else failed++;
  }
}
for (const [name, code] of steps) console.log(`${name}: ${code === 0 ? "ok" : `failed (exit ${code})`}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(steps.every(([, code]) => code === 0) && failed === 0 ? 0 : 1);
