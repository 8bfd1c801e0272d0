import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/unit/**/*.test.ts", "tests/integration/**/*.test.ts"],
    // One PostgreSQL server for the run (suites make their own databases on it).
    globalSetup: ["tests/global-postgres.ts"],
    // Training tests are CPU-bound; two cores run two files at once at most.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
