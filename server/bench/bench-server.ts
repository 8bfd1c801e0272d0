/**
 * What every server benchmark starts with: a real server on loopback over a temporary SQLite file and data folder
 * (trainers on wasm, no web pages), a counter of the loss pushes it sends, and percentiles of a sample.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, type RunningServer } from "../app";
import { loadEnv } from "../env";

export interface BenchServer {
  server: RunningServer;
  /** The temporary folder (database, DATA_DIR), removed by close(). */
  dir: string;
  /** `run:losses` pushes sent to session rooms since the last `resetPushes()`. */
  pushesSent(): number;
  resetPushes(): void;
  /** Closes the server and removes its folder. */
  close(): Promise<void>;
}

export async function startBenchServer(name: string, env: Record<string, string> = {}): Promise<BenchServer> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `gan-${name}-`));
  const server = await startServer(
    loadEnv({
      NODE_ENV: "test",
      PORT: "0",
      DATABASE_URL: `file:${path.join(tmp, "db.sqlite")}`,
      DATA_DIR: tmp,
      GAN_BACKEND: "wasm",
      SERVE_APP: "0",
      ...env,
    } as NodeJS.ProcessEnv),
  );
  let pushes = 0;
  const to = server.io.to.bind(server.io);
  server.io.to = ((room: string) => {
    const target = to(room);
    const emit = target.emit.bind(target);
    target.emit = ((event: string, ...args: unknown[]) => {
      if (event === "run:losses") pushes++;
      return (emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    }) as typeof target.emit;
    return target;
  }) as typeof server.io.to;
  return {
    server,
    dir: tmp,
    pushesSent: () => pushes,
    resetPushes: () => {
      pushes = 0;
    },
    close: async () => {
      await server.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** The p-th percentile of a sample (NaN when empty). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
