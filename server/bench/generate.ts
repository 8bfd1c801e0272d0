/**
 * npm run bench:generate -- [--seconds 15] [--network small-dcgan|nnc-dcgan-with-label] [--json]
 * RuntimeGenerator requests (GET /api/runs/:id/generate, one 28×28 image, PNG) one after another for N seconds
 * while the run trains, on a real server on loopback. Prints requests/s and p50/p99 latency, and how many
 * iterations the run trained meanwhile, then one JSON line.
 */
import { parseArgs } from "node:util";
import { person } from "../../tests/helpers/clients";
import { percentile, startBenchServer } from "./bench-server";

const { values } = parseArgs({ options: { seconds: { type: "string" }, network: { type: "string" }, json: { type: "boolean" } } });
const seconds = Number(values.seconds ?? 15);
const network = values.network ?? "small-dcgan";

const bench = await startBenchServer("generate");
const { server } = bench;
try {
  const ada = person(server.url);
  await ada.api.auth.signUp.mutate({ email: "bench@example.com", name: "Bench", password: "bench password" });
  const session = await ada.api.sessions.create.mutate({ name: "Generate" });
  const batchSize = network === "small-dcgan" ? 16 : 64;
  const run = await ada.api.runs.create.mutate({
    sessionId: session.id,
    name: "bench",
    config: { network, diagnostics: false, batchSize, limit: 64 * batchSize, maxEpoch: 1000, seed: 1 },
  });
  await ada.api.runs.start.mutate({ runId: run.id });
  // Wait until it trains.
  for (let i = 0; i < 600; i++) {
    if ((await ada.api.runs.get.query({ runId: run.id })).run.iteration > 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const startIteration = (await ada.api.runs.get.query({ runId: run.id })).run.iteration;
  const times: number[] = [];
  const end = Date.now() + seconds * 1000;
  let k = 0;
  while (Date.now() < end) {
    const t0 = performance.now();
    const res = await ada.fetch(`/api/runs/${run.id}/generate?label=${k % 10}&seed=${k}&count=1`);
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200 || body.subarray(1, 4).toString() !== "PNG") throw new Error(`request ${k} failed: ${res.status} ${body.toString().slice(0, 200)}`);
    times.push(performance.now() - t0);
    k++;
  }
  const endIteration = (await ada.api.runs.get.query({ runId: run.id })).run.iteration;
  await ada.api.runs.stop.mutate({ runId: run.id });
  const result = {
    network,
    batchSize,
    seconds,
    requests: times.length,
    requestsPerSec: times.length / seconds,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    iterationsMeanwhile: endIteration - startIteration,
  };
  console.log("| network | batch | requests | requests/s | p50 ms | p99 ms | iterations trained meanwhile |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  console.log(
    `| ${network} | ${batchSize} | ${result.requests} | ${result.requestsPerSec.toFixed(1)} | ${result.p50Ms.toFixed(1)} | ${result.p99Ms.toFixed(1)} | ${result.iterationsMeanwhile} |`,
  );
  if (values.json) console.log(JSON.stringify(result));
} finally {
  await bench.close();
}
