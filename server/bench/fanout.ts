/**
 * npm run bench:fanout -- --viewers 100 --seconds 20 [--json]
 * A real server on loopback (temporary SQLite file), a run training the small DCGAN on wasm, and N socket.io
 * viewers in a second process. Prints delivered/expected loss pushes, p50/p99 latency from the server's receipt
 * of a trainer event to a viewer, and the server's event-loop lag p99; then one JSON line.
 *
 * npm run bench:fanout -- --nodes 3 --viewers 3000 --seconds 20 [--clients-niceness 10] [--json]
 * The same on a cluster (server/bench/fanout-cluster.ts): the local cluster of scripts/cluster.ts (PostgreSQL, Redis,
 * N web processes), or the given DATABASE_URL (postgresql://) and REDIS_URL with N web processes started here; the
 * viewers spread over the processes, their clients in max(2, N) processes; every process's loop lag.
 */
import { fork } from "node:child_process";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { person } from "../../tests/helpers/clients";
import { percentile, startBenchServer } from "./bench-server";

const { values } = parseArgs({
  options: {
    viewers: { type: "string" },
    seconds: { type: "string" },
    json: { type: "boolean" },
    nodes: { type: "string" },
    "clients-niceness": { type: "string" },
  },
});
const viewers = Number(values.viewers ?? 100);
const seconds = Number(values.seconds ?? 20);
if (values.nodes !== undefined) {
  const { fanoutCluster } = await import("./fanout-cluster");
  await fanoutCluster({
    nodes: Number(values.nodes),
    viewers,
    seconds,
    json: values.json ?? false,
    clientsNiceness: Number(values["clients-niceness"] ?? 0),
  });
  process.exit(0);
}

const bench = await startBenchServer("fanout");
const { server } = bench;
try {
  const ada = person(server.url);
  await ada.api.auth.signUp.mutate({ email: "bench@example.com", name: "Bench", password: "bench password" });
  const session = await ada.api.sessions.create.mutate({ name: "Fan-out" });
  const run = await ada.api.runs.create.mutate({
    sessionId: session.id,
    name: "bench",
    config: { network: "small-dcgan", diagnostics: false, batchSize: 16, limit: 640, maxEpoch: 1000, seed: 1, sampleColumns: 4 },
  });

  const clients = fork(path.join(import.meta.dirname, "fanout-clients.ts"), [server.url, ada.cookie(), session.id, run.id, String(viewers), "0"], {
    execArgv: ["--import", "tsx"],
  });
  const next = <T>(type: string) => new Promise<T>((resolve) => clients.on("message", (m: { type: string }) => m.type === type && resolve(m as T)));
  const joined = await next<{ failed: number }>("joined");
  if (joined.failed) throw new Error(`${joined.failed} viewers could not join`);

  // Viewers joined before the run starts, so every push the server sends to the session should reach each of them.
  bench.resetPushes();
  await ada.api.runs.start.mutate({ runId: run.id });
  await new Promise((r) => setTimeout(r, 3000)); // the trainer process starts; loop lag is measured after it
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  lag.disable();
  await ada.api.runs.pause.mutate({ runId: run.id });
  await new Promise((r) => setTimeout(r, 1500)); // the last pushes arrive
  clients.send({ type: "report" });
  const report = await next<{ pushes: number[]; points: number[]; latencies: number[]; distinctIterations: number[] }>("report");
  const history = await ada.api.runs.history.query({ runId: run.id });

  const delivered = report.pushes.reduce((a, b) => a + b, 0);
  const expected = bench.pushesSent() * viewers;
  const result = {
    nodes: 1,
    database: "sqlite",
    adapter: "in-memory",
    viewers,
    seconds,
    iterations: history.losses.length,
    expected,
    delivered,
    p50Ms: percentile(report.latencies, 50),
    p99Ms: percentile(report.latencies, 99),
    loopLagP99Ms: lag.percentile(99) / 1e6,
    loopLagMaxMs: lag.max / 1e6,
    everyViewerSawEveryIteration: report.distinctIterations.every((n) => n === history.losses.length),
  };
  console.log(
    "| viewers | training s | iterations | delivered / expected pushes | every viewer saw every iteration | p50 ms | p99 ms | loop lag p99 ms | loop lag max ms |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  console.log(
    `| ${viewers} | ${seconds} | ${result.iterations} | ${delivered} / ${expected} (${((100 * delivered) / expected).toFixed(1)}%) | ${result.everyViewerSawEveryIteration} | ` +
      `${result.p50Ms.toFixed(1)} | ${result.p99Ms.toFixed(1)} | ${result.loopLagP99Ms.toFixed(1)} | ${result.loopLagMaxMs.toFixed(1)} |`,
  );
  if (values.json) console.log(JSON.stringify(result));
} finally {
  await bench.close();
}
