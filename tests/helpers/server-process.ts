/**
 * A real GAN Studio server process (`tsx server/index.ts`) for the tests that kill or restart one: started with the
 * given environment on top of this process's, resolved with its URL from the line it prints. Every process started
 * is SIGKILLed by `killAll` (the suite's afterAll).
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import type { Person } from "./clients";

const root = path.resolve(import.meta.dirname, "../..");
const started: ChildProcess[] = [];

export function startServerProcess(env: Record<string, string>, label = "server"): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /GAN Studio on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => reject(new Error(`${label} exited with ${code}: ${out}`)));
  });
}

/** Runs a server process that is expected to refuse to start: its exit code and everything it printed. */
export function failedStart(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(child);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => resolve({ code, out }));
  });
}

export function killAll(): void {
  for (const c of started) c.kill("SIGKILL");
}

/**
 * Waits until the run has a checkpoint recorded (checkpoints are written while training goes on, so one lands some
 * iterations after its epoch): what a kill must not race.
 */
export async function untilCheckpointRecorded(member: Person, runId: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await member.api.runs.get.query({ runId })).checkpoints.length === 0) {
    if (Date.now() > until) throw new Error(`no checkpoint of run ${runId} recorded within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
