/**
 * `npm run bench:fanout -- --nodes N`: the fan-out benchmark on a cluster (see fanout.ts). A run trains as a child of
 * the first process; viewers join before it starts, spread round-robin over the processes, their socket.io clients in
 * max(2, N) client processes. Delivered / expected comes from the processes' own count of loss pushes (`/api/health`
 * `pushes.losses`: only the trainer's parent sends them, the Redis adapter carries them to the others), loop lag from
 * each process's own histogram over the measured window (`/api/health?resetLoopLag=1` at its start).
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalCluster } from "../../scripts/cluster";
import { person } from "../../tests/helpers/clients";
import { percentile } from "./bench-server";

interface Health {
  pushes: { losses: number };
  eventLoopLag: { p99Ms: number; maxMs: number };
  database: { kind: string };
  cluster: { node: string } | null;
}

const health = async (url: string, reset = false): Promise<Health> =>
  (await fetch(`${url}/api/health${reset ? "?resetLoopLag=1" : ""}`)).json() as Promise<Health>;

export async function fanoutCluster(opts: { nodes: number; viewers: number; seconds: number; json: boolean; clientsNiceness?: number }): Promise<void> {
  const { nodes, viewers, seconds } = opts;
  const clientsNiceness = opts.clientsNiceness ?? 0;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) throw new Error("--nodes: 1 to 16 web processes");
  if (!Number.isInteger(clientsNiceness) || clientsNiceness < 0 || clientsNiceness > 19) throw new Error("--clients-niceness: 0 to 19");
  const dir = mkdtempSync(path.join(os.tmpdir(), "gan-fanout-cluster-"));
  process.env.GAN_BACKEND ??= "wasm";
  const external = process.env.DATABASE_URL?.startsWith("postgres") && process.env.REDIS_URL;
  const cluster = await startLocalCluster({
    nodes,
    port: 0,
    dir,
    app: false,
    quiet: true,
    ...(external ? { databaseUrl: process.env.DATABASE_URL!, redisUrl: process.env.REDIS_URL! } : {}),
  });
  try {
    const ada = person(cluster.urls[0]!);
    await ada.api.auth.signUp.mutate({ email: `bench-${Date.now()}@example.com`, name: "Bench", password: "bench password" });
    const session = await ada.api.sessions.create.mutate({ name: "Fan-out" });
    const run = await ada.api.runs.create.mutate({
      sessionId: session.id,
      name: "bench",
      config: { network: "small-dcgan", diagnostics: false, batchSize: 16, limit: 640, maxEpoch: 1000, seed: 1, sampleColumns: 4 },
    });
    const groups = Math.max(2, nodes);
    const clients = Array.from({ length: groups }, (_, g) => {
      const count = Math.floor(viewers / groups) + (g < viewers % groups ? 1 : 0);
      const offset = Math.floor(viewers / groups) * g + Math.min(g, viewers % groups);
      const child = fork(
        path.join(import.meta.dirname, "fanout-clients.ts"),
        [cluster.urls.join(","), ada.cookie(), session.id, run.id, String(count), String(offset)],
        // --clients-niceness: the viewers stand for browsers on other machines; here they can run below the servers'
        // priority (nice(1)), so that a node's loop lag is its own work's, not the clients' competing for a core.
        clientsNiceness > 0
          ? { execPath: "/usr/bin/nice", execArgv: ["-n", String(clientsNiceness), process.execPath, "--import", "tsx"] }
          : { execArgv: ["--import", "tsx"] },
      );
      return { child, count };
    });
    // A viewers' process that exits before answering fails the benchmark (instead of waiting for it forever).
    const next = <T>(child: (typeof clients)[number]["child"], type: string) =>
      new Promise<T>((resolve, reject) => {
        child.on("message", (m: { type: string }) => m.type === type && resolve(m as T));
        child.once("exit", (code) => reject(new Error(`a viewers' process exited (${code}) before its "${type}"`)));
      });
    const joined = await Promise.all(clients.map((c) => next<{ failed: number }>(c.child, "joined")));
    const failed = joined.reduce((a, j) => a + j.failed, 0);
    if (failed) throw new Error(`${failed} viewers could not join`);

    const pushesBefore = (await Promise.all(cluster.urls.map((u) => health(u)))).reduce((a, h) => a + h.pushes.losses, 0);
    await ada.api.runs.start.mutate({ runId: run.id });
    await new Promise((r) => setTimeout(r, 3000)); // the trainer process starts; loop lag is measured after it
    await Promise.all(cluster.urls.map((u) => health(u, true)));
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const lags = await Promise.all(cluster.urls.map((u) => health(u)));
    await ada.api.runs.pause.mutate({ runId: run.id });
    await new Promise((r) => setTimeout(r, 1500)); // the last pushes arrive
    const pushesAfter = (await Promise.all(cluster.urls.map((u) => health(u)))).reduce((a, h) => a + h.pushes.losses, 0);
    const reports = await Promise.all(
      clients.map((c) => {
        const r = next<{ pushes: number[]; latencies: number[]; distinctIterations: number[] }>(c.child, "report");
        c.child.send({ type: "report" });
        return r;
      }),
    );
    const history = await ada.api.runs.history.query({ runId: run.id });
    const latencies = reports.flatMap((r) => r.latencies);
    const delivered = reports.reduce((a, r) => a + r.pushes.reduce((x, y) => x + y, 0), 0);
    const expected = (pushesAfter - pushesBefore) * viewers;
    const result = {
      nodes,
      database: "postgresql",
      adapter: "redis",
      viewers,
      clientProcesses: groups,
      clientsNiceness,
      seconds,
      iterations: history.losses.length,
      expected,
      delivered,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      loopLagP99Ms: Math.max(...lags.map((h) => h.eventLoopLag.p99Ms)),
      loopLagP99MsByNode: lags.map((h) => +h.eventLoopLag.p99Ms.toFixed(1)),
      loopLagMaxMs: Math.max(...lags.map((h) => h.eventLoopLag.maxMs)),
      everyViewerSawEveryIteration: reports.every((r) => r.distinctIterations.every((n) => n === history.losses.length)),
    };
    console.log(
      "| nodes | viewers | training s | iterations | delivered / expected pushes | every viewer saw every iteration | p50 ms | p99 ms | loop lag p99 ms (each node) | loop lag max ms |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    console.log(
      `| ${nodes} | ${viewers} | ${seconds} | ${result.iterations} | ${delivered} / ${expected} (${((100 * delivered) / Math.max(1, expected)).toFixed(1)}%) | ` +
        `${result.everyViewerSawEveryIteration} | ${result.p50Ms.toFixed(1)} | ${result.p99Ms.toFixed(1)} | ${result.loopLagP99MsByNode.join(" / ")} | ${result.loopLagMaxMs.toFixed(1)} |`,
    );
    if (opts.json) console.log(JSON.stringify(result));
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
