// Vitest's global setup: one PostgreSQL server for the whole run, started from the installed binaries on a free
// loopback port with its data in a temporary folder (server/cluster/postgres.ts), stopped and removed at the end.
// Suites make a database of their own on it (tests/helpers/postgres.ts). Without PostgreSQL installed the run stops
// here with the install command: the PostgreSQL suites are part of the suite, not optional.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startPostgres } from "../server/cluster/postgres";

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(path.join(tmpdir(), "gan-test-pg-"));
  const server = await startPostgres({ dir });
  project.provide("postgresUrl", server.url);
  return () => {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
