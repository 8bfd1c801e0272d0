/**
 * The environment of a server under test: a temporary SQLite file and data folder, trainers on wasm, no web pages,
 * port 0 (a free one), plus any limit a test sets (server/limits.ts names them).
 *
 * With GAN_TEST_DATABASE=postgresql (npm test's second pass of the integration suites), the database is one of its
 * own on the run's PostgreSQL server instead (tests/global-postgres.ts), named after the data folder: a test that
 * starts a server again on the same folder finds the same database, as it finds the same SQLite file.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import { inject } from "vitest";
import { postgresBinDir } from "../../server/cluster/postgres";
import type { DatabaseKind } from "../../server/db/client";
import { loadEnv, type ServerEnv } from "../../server/env";

/** The database the suites' servers run on in this pass. */
export function testDatabaseKind(): DatabaseKind {
  return process.env.GAN_TEST_DATABASE === "postgresql" ? "postgresql" : "sqlite";
}

const created = new Set<string>();

/** The database of the server whose data folder is `tmp`: created on first use (synchronously: psql). */
function testDatabaseUrl(tmp: string): string {
  if (testDatabaseKind() === "sqlite") return `file:${path.join(tmp, "test.db")}`;
  const server = new URL(inject("postgresUrl"));
  const name = `gan_t_${createHash("sha256").update(path.resolve(tmp)).digest("hex").slice(0, 16)}`;
  if (!created.has(name)) {
    const psql = path.join(postgresBinDir() ?? "/usr/bin", "psql");
    const exists = execFileSync(psql, [server.toString(), "-tAc", `SELECT 1 FROM pg_database WHERE datname = '${name}'`], { encoding: "utf8" }).trim();
    if (exists !== "1") execFileSync(psql, [server.toString(), "-qc", `CREATE DATABASE "${name}"`]);
    created.add(name);
  }
  server.pathname = `/${name}`;
  return server.toString();
}

/** The variables of that environment, as a server process started with them reads them. */
export function testEnvVars(tmp: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: "test",
    PORT: "0",
    DATA_DIR: tmp,
    GAN_BACKEND: "wasm",
    SERVE_APP: "0",
    ...overrides,
    DATABASE_URL: overrides.DATABASE_URL ?? testDatabaseUrl(tmp),
  };
}

export function testEnv(tmp: string, overrides: Record<string, string> = {}): ServerEnv {
  return loadEnv(testEnvVars(tmp, overrides) as NodeJS.ProcessEnv);
}
