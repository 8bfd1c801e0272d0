// A Redis server of its own, from Debian's `redis-server`, as a child process on loopback that keeps nothing on disk:
// for the tests (on a free port) and the local cluster command. `kill()` is SIGKILL, `start()` starts it again on the
// same port (empty: a Redis restart loses what it held, as Redis without persistence does).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createConnection } from "node:net";
import { freePort } from "./postgres";

export interface RedisServer {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

function redisBin(): string {
  const bin = process.env.GAN_REDIS_SERVER ?? "redis-server";
  const probe = spawnSync(bin, ["--version"], { encoding: "utf8" });
  if (probe.status !== 0) throw new Error(`redis-server is not installed (${bin}): apt-get install -y redis-server, or set GAN_REDIS_SERVER`);
  return bin;
}

/** Resolves once something accepts connections on the port (or rejects after `ms`). */
function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createConnection({ host: "127.0.0.1", port }, () => {
        s.end();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`redis-server did not listen on 127.0.0.1:${port} within ${ms} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startRedis(opts: { port?: number } = {}): Promise<RedisServer> {
  const bin = redisBin();
  const port = opts.port ?? (await freePort());
  let child: ChildProcess | null = null;
  const exited = () =>
    child ? new Promise<void>((r) => (child!.exitCode !== null || child!.signalCode !== null ? r() : child!.once("exit", () => r()))) : Promise.resolve();
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"], {
        stdio: "ignore",
      });
      await waitForPort(port, 10_000);
    },
    async stop() {
      child?.kill("SIGTERM");
      await exited();
    },
    async kill() {
      child?.kill("SIGKILL");
      await exited();
    },
  };
  await server.start();
  return server;
}
