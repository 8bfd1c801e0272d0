/**
 * A local cluster on this machine, for trying cluster mode and for the fan-out benchmark: PostgreSQL and Redis from
 * Debian's packages as children on loopback (data in DIR), then N web processes of GAN Studio on N ports, sharing the
 * database, Redis and DIR/data. Ctrl-C (or SIGTERM) stops the web processes gracefully, then Redis and PostgreSQL.
 *
 *   npm run cluster -- [--nodes 2] [--port 3001] [--dir ./data/cluster] [--no-app]
 *
 * --port: the first web process's port (the others follow); --no-app: API and sockets only (no pages; the benchmark).
 * With pages, build them once first (`npm run build`). Prints each process's URL, then one JSON line with them all.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { type PostgresServer, startPostgres } from "../server/cluster/postgres";
import { type RedisServer, startRedis } from "../server/cluster/redis";

export interface LocalCluster {
  urls: string[];
  databaseUrl: string;
  redisUrl: string;
  nodes: ChildProcess[];
  stop(): Promise<void>;
}

/** Starts the services and `nodes` web processes; resolves once every process listens. */
export async function startLocalCluster(opts: {
  nodes: number;
  /** The first process's port (the others follow); 0: each a free one. */
  port: number;
  dir: string;
  app: boolean;
  quiet?: boolean;
  /** Use these instead of starting PostgreSQL and Redis here. */
  databaseUrl?: string;
  redisUrl?: string;
}): Promise<LocalCluster> {
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  // PostgreSQL runs as its own user when this process is root: it must be able to pass through DIR (mkdtemp makes 0700).
  chmodSync(dir, 0o711);
  const pg: Pick<PostgresServer, "url" | "stop"> = opts.databaseUrl
    ? { url: opts.databaseUrl, stop: () => undefined }
    : await startPostgres({ dir: path.join(dir, "postgres") });
  let redis: Pick<RedisServer, "url" | "stop">;
  try {
    redis = opts.redisUrl ? { url: opts.redisUrl, stop: async () => undefined } : await startRedis();
  } catch (e) {
    pg.stop();
    throw e;
  }
  const nodes: ChildProcess[] = [];
  const urls: string[] = [];
  const stop = async () => {
    for (const n of nodes) if (n.exitCode === null) n.kill("SIGTERM");
    await Promise.all(nodes.map((n) => (n.exitCode === null ? new Promise((r) => n.once("exit", r)) : null)));
    await redis.stop();
    pg.stop();
  };
  try {
    // One after the other: the first applies the migrations (the others would wait on its lock anyway).
    for (let i = 0; i < opts.nodes; i++) {
      const child = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
        cwd: path.resolve(import.meta.dirname, ".."),
        env: {
          ...process.env,
          NODE_ENV: opts.app ? "production" : (process.env.NODE_ENV ?? "production"),
          PORT: String(opts.port === 0 ? 0 : opts.port + i),
          DATABASE_URL: pg.url,
          REDIS_URL: redis.url,
          DATA_DIR: path.join(dir, "data"),
          GAN_NODE_ID: `node-${i + 1}`,
          SERVE_APP: opts.app ? "1" : "0",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      nodes.push(child);
      urls.push(
        await new Promise<string>((resolve, reject) => {
          let out = "";
          const onData = (d: Buffer) => {
            out += d.toString();
            if (!opts.quiet) process.stdout.write(`[node-${i + 1}] ${d}`);
            const m = /GAN Studio on (http:\/\/[^\s]+)/.exec(out);
            if (m) resolve(m[1]!);
          };
          child.stdout!.on("data", onData);
          child.stderr!.on("data", (d: Buffer) => {
            out += d.toString();
            if (!opts.quiet) process.stderr.write(`[node-${i + 1}] ${d}`);
          });
          child.once("exit", (code) => reject(new Error(`web process node-${i + 1} exited with ${code}: ${out.slice(-2000)}`)));
        }),
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { urls, databaseUrl: pg.url, redisUrl: redis.url, nodes, stop };
}

if (import.meta.filename === path.resolve(process.argv[1] ?? "")) {
  const { values } = parseArgs({
    options: {
      nodes: { type: "string", default: "2" },
      port: { type: "string", default: "3001" },
      dir: { type: "string", default: "./data/cluster" },
      "no-app": { type: "boolean", default: false },
    },
  });
  const nodes = Number(values.nodes);
  const port = Number(values.port);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) throw new Error("--nodes: 1 to 16 web processes");
  if (!Number.isInteger(port) || port < 1 || port + nodes > 65535) throw new Error("--port: a port number");
  const app = !values["no-app"];
  if (app && !existsSync(path.resolve(import.meta.dirname, "../.next/BUILD_ID"))) {
    console.error("The pages are not built: run `npm run build` first, or start with --no-app (API and sockets only).");
    process.exit(1);
  }
  const cluster = await startLocalCluster({ nodes, port, dir: values.dir!, app });
  console.log(`\nA cluster of ${nodes} web process(es) on one PostgreSQL (${cluster.databaseUrl}) and one Redis (${cluster.redisUrl}):`);
  for (const u of cluster.urls) console.log(`  ${u}`);
  console.log("Put a reverse proxy in front (README.md, Cluster mode). Ctrl-C stops everything.");
  console.log(JSON.stringify({ nodes: cluster.urls, databaseUrl: cluster.databaseUrl, redisUrl: cluster.redisUrl }));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void cluster.stop().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
