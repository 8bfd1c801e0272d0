/**
 * npm run bench:abuse -- [--viewers 100] [--seconds 20] [--json]
 * A real server on loopback (temporary SQLite file), one run training the small DCGAN on wasm, N socket.io viewers
 * in a second process (server/bench/fanout-clients.ts) and an attacker in a third (server/bench/abuse-attacker.ts)
 * that sends oversize bodies, bursts of sign-ins and RuntimeGenerator requests for the given seconds. Prints the
 * viewers' delivery ratio and p99 latency, the server's event-loop lag p99, the health check's p99 during the
 * attack and the attacker's refusals by code; then one JSON line. Targets: delivery 100%, health p99 < 200 ms,
 * viewers' p99 < 150 ms.
 */
import { fork } from "node:child_process";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { person } from "../../tests/helpers/clients";
import { percentile, startBenchServer } from "./bench-server";

const { values } = parseArgs({ options: { viewers: { type: "string" }, seconds: { type: "string" }, json: { type: "boolean" } } });
const viewers = Number(values.viewers ?? 100);
const seconds = Number(values.seconds ?? 20);

const bench = await startBenchServer("abuse-bench");
const { server } = bench;
try {
  const owner = person(server.url);
  await owner.api.auth.signUp.mutate({ email: "bench@example.com", name: "Bench", password: "bench password" });
  const session = await owner.api.sessions.create.mutate({ name: "Under attack" });
  const run = await owner.api.runs.create.mutate({
    sessionId: session.id,
    name: "bench",
    config: { network: "small-dcgan", diagnostics: false, batchSize: 16, limit: 640, maxEpoch: 1000, seed: 1, sampleColumns: 4 },
  });

  const execArgv = ["--import", "tsx"];
  const clients = fork(path.join(import.meta.dirname, "fanout-clients.ts"), [server.url, owner.cookie(), session.id, run.id, String(viewers)], { execArgv });
  const next = <T>(child: ReturnType<typeof fork>, type: string) =>
    new Promise<T>((resolve) => child.on("message", (m: { type: string }) => m.type === type && resolve(m as T)));
  const joined = await next<{ failed: number }>(clients, "joined");
  if (joined.failed) throw new Error(`${joined.failed} viewers could not join`);

  bench.resetPushes();
  await owner.api.runs.start.mutate({ runId: run.id });
  await new Promise((r) => setTimeout(r, 3000)); // the trainer process starts and writes its first weights
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const attacker = fork(path.join(import.meta.dirname, "abuse-attacker.ts"), [server.url, run.id, String(seconds)], { execArgv });
  const attack = await next<{ refusals: Record<string, number>; health: number[]; rounds: number }>(attacker, "report");
  lag.disable();
  await owner.api.runs.pause.mutate({ runId: run.id });
  await new Promise((r) => setTimeout(r, 1500)); // the last pushes arrive
  clients.send({ type: "report" });
  const report = await next<{ pushes: number[]; latencies: number[] }>(clients, "report");

  const delivered = report.pushes.reduce((a, b) => a + b, 0);
  const expected = bench.pushesSent() * viewers;
  const result = {
    viewers,
    seconds,
    attackRounds: attack.rounds,
    expected,
    delivered,
    deliveryRatio: expected ? delivered / expected : Number.NaN,
    viewersP99Ms: percentile(report.latencies, 99),
    loopLagP99Ms: lag.percentile(99) / 1e6,
    healthP99Ms: percentile(attack.health, 99),
    healthMaxMs: Math.max(...attack.health),
    refusals: attack.refusals,
  };
  console.log("| viewers | attack s | rounds | delivered / expected | viewers' p99 ms | loop lag p99 ms | health p99 ms | health max ms |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  console.log(
    `| ${viewers} | ${seconds} | ${attack.rounds} | ${delivered} / ${expected} (${(100 * result.deliveryRatio).toFixed(1)}%) | ${result.viewersP99Ms.toFixed(1)} | ` +
      `${result.loopLagP99Ms.toFixed(1)} | ${result.healthP99Ms.toFixed(1)} | ${result.healthMaxMs.toFixed(1)} |`,
  );
  console.log("");
  console.log("| attacker's answers (status code) | count |");
  console.log("| --- | --- |");
  for (const [k, n] of Object.entries(attack.refusals).sort()) console.log(`| ${k} | ${n} |`);
  if (values.json) console.log(JSON.stringify(result));
} finally {
  await bench.close();
}
