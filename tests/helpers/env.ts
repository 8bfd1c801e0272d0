/**
 * The environment of a server under test: a temporary SQLite file and data folder, trainers on wasm, no web pages,
 * port 0 (a free one), plus any limit a test sets (server/limits.ts names them).
 */
import path from "node:path";
import { loadEnv, type ServerEnv } from "../../server/env";

/** The variables of that environment, as a server process started with them reads them. */
export function testEnvVars(tmp: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: "test",
    PORT: "0",
    DATABASE_URL: `file:${path.join(tmp, "test.db")}`,
    DATA_DIR: tmp,
    GAN_BACKEND: "wasm",
    SERVE_APP: "0",
    ...overrides,
  };
}

export function testEnv(tmp: string, overrides: Record<string, string> = {}): ServerEnv {
  return loadEnv(testEnvVars(tmp, overrides) as NodeJS.ProcessEnv);
}
