/**
 * The server under test: `tsx server/index.ts` in production mode on the port playwright.config.ts chose, with a
 * temporary SQLite database and data folder. Its pid and environment are kept in a state file so any test can stop
 * it (SIGTERM, like a deploy) and start it again on the same port and database.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
export const STATE = path.join(ROOT, "test-results", "e2e-server.json");
export const LOG = path.join(ROOT, "test-results", "e2e-server.log");

export interface ServerState {
  pid: number;
  url: string;
  env: Record<string, string>;
  tmp: string;
}

export function readState(): ServerState {
  return JSON.parse(readFileSync(STATE, "utf8")) as ServerState;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitForHealth(url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`the server at ${url} did not become healthy in ${timeoutMs} ms (${last}); see ${LOG}`);
}

/** Starts the server detached (it outlives the worker that started it; teardown stops it) and waits for health. */
export async function startServer(env: Record<string, string>, tmp: string): Promise<ServerState> {
  mkdirSync(path.dirname(LOG), { recursive: true });
  const log = openSync(LOG, "a");
  const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
  const child = spawn(tsx, ["server/index.ts"], { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", log, log] });
  child.unref();
  if (!child.pid) throw new Error("could not start the server");
  const state: ServerState = { pid: child.pid, url: `http://127.0.0.1:${env.PORT}`, env, tmp };
  writeFileSync(STATE, JSON.stringify(state, null, 2));
  await waitForHealth(state.url);
  return state;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by its parent) counts as gone.
  const stat = `/proc/${pid}/stat`;
  return !(existsSync(stat) && / Z /.test(readFileSync(stat, "utf8")));
}

/** SIGTERM (graceful: trainers pause and checkpoint), then waits for the process to exit; SIGKILL after the timeout. */
export async function stopServer(timeoutMs = 20_000): Promise<void> {
  const { pid } = readState();
  if (!alive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      process.kill(pid, "SIGKILL");
    }
    await sleep(500);
  }
}

export async function restartServer(): Promise<void> {
  const state = readState();
  await stopServer();
  await startServer(state.env, state.tmp);
}
