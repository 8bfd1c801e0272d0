/**
 * The whole loop against the step, in ONE process and alternating, so the machine's drift (10–30% within minutes
 * here) drops out: a Trainer runs on the defaults (NNC's network, bundled digits, batch 64, diagnostics and a
 * checkpoint every epoch); after every epoch it is paused and bench:train's step (20 iterations, its own model)
 * runs, then the Trainer resumes. Each epoch's wall time (its iterations and its end-of-epoch work: monitor, grid,
 * diagnostics, checkpoint) is set against the bench that follows it.
 *   npx tsx scripts/bench-loop-probe.ts [EPOCHS]        (default 3; prints a table, then one JSON line)
 * The last epoch's wall time includes its checkpoint write (a run ends once it is on disk).
 * The first epoch also pays the first iteration's warm-up (kernels, buffers); it is reported apart from the rest.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { benchTrain, median } from "../lib/gan/bench";
import { Trainer } from "../lib/gan/trainer";

const epochs = Number(process.argv[2] ?? 3);
const out = mkdtempSync(path.join(tmpdir(), "gan-loop-"));
const trainer = await Trainer.create({ config: { maxEpoch: epochs }, outDir: out, backend: "wasm" });
const ipe = trainer.iterationsPerEpoch;
const batch = trainer.config.batchSize;

interface EpochRow {
  epoch: number;
  wallMs: number;
  stepMedianMs: number;
  stepMeanMs: number;
  endOfEpochMs: Record<string, number>;
  diagnosticsMs: Record<string, number>;
  benchMs: number;
  /** From the capture to the checkpoint event: the write, in the background. */
  writeMs: number;
}
const rows: EpochRow[] = [];
let steps: number[] = [];
let endOfEpoch: Record<string, number> = {};
let diagnosticsMs: Record<string, number> = {};
let last = performance.now();
let epochStart = last;
let benching: Promise<void> | null = null;

let pausedAt = 0;
let written: (() => void) | null = null;
const runBench = (row: EpochRow) =>
  benchTrain({ spec: "nnc-dcgan-with-label", batch, iters: 20, backend: "wasm" }).then((b) => {
    row.benchMs = b.msPerIter;
  });

trainer.on((e) => {
  const now = performance.now();
  if (e.type === "losses") steps.push(e.msPerIter);
  else if (e.type === "epoch" || e.type === "sampleGrid" || e.type === "diagnostics") {
    endOfEpoch[e.type] = (endOfEpoch[e.type] ?? 0) + now - last;
    if (e.type === "diagnostics") diagnosticsMs = Object.fromEntries(Object.entries(e.timings).map(([k, v]) => [k, +v.toFixed(0)]));
    // The epoch's last event before its checkpoint is captured: pause (the loop parks after the capture).
    if (e.type === "diagnostics") trainer.pause();
  } else if (e.type === "checkpoint" && written) {
    rows.at(-1)!.writeMs = now - pausedAt;
    written();
    written = null;
  } else if (e.type === "status" && (e.status === "paused" || e.status === "completed")) {
    pausedAt = now;
    endOfEpoch.checkpointCapture = now - last;
    const row = {
      epoch: Math.round(e.iteration / ipe),
      wallMs: now - epochStart,
      stepMedianMs: median(steps),
      stepMeanMs: steps.reduce((a, b) => a + b, 0) / steps.length,
      endOfEpochMs: endOfEpoch,
      diagnosticsMs,
      benchMs: Number.NaN,
      writeMs: Number.NaN,
    };
    steps = [];
    endOfEpoch = {};
    rows.push(row);
    // The bench starts once the checkpoint is on disk (the write goes on in the background while training).
    // The last epoch's status comes after its write (a run ends once its checkpoints are on disk).
    const onDisk = e.status === "completed" ? Promise.resolve() : new Promise<void>((r) => (written = r));
    benching = onDisk
      .then(() => runBench(row))
      .then(() => {
        if (e.status === "paused") {
          epochStart = last = performance.now();
          trainer.resume();
        }
      });
  }
  last = now;
});
await trainer.start();
await benching;
trainer.dispose();
rmSync(out, { recursive: true, force: true });

const fmt = (x: number) => x.toFixed(1);
console.log(
  "| epoch | wall ms per iteration | the Trainer's step (median, mean) | end of epoch, ms (monitor, grid, diagnostics, checkpoint capture) | checkpoint write, in the background (ms) | bench:train's step after it | wall images/s ÷ bench images/s |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  const e = r.endOfEpochMs;
  const eoe = ["epoch", "sampleGrid", "diagnostics", "checkpointCapture"].map((k) => (e[k] ?? 0).toFixed(0)).join(" / ");
  console.log(
    `| ${r.epoch} | ${fmt(r.wallMs / ipe)} | ${fmt(r.stepMedianMs)}, ${fmt(r.stepMeanMs)} | ${eoe} | ${r.writeMs.toFixed(0)} | ${fmt(r.benchMs)} | ${(r.benchMs / (r.wallMs / ipe)).toFixed(3)} |`,
  );
}
const steady = rows.slice(1);
const ratios = steady.map((r) => r.benchMs / (r.wallMs / ipe));
console.log(`diagnostics' stages in the last epoch (ms): ${JSON.stringify(rows.at(-1)?.diagnosticsMs)}`);
console.log(
  JSON.stringify({
    epochs,
    iterationsPerEpoch: ipe,
    firstEpochRatio: rows[0] ? +(rows[0].benchMs / (rows[0].wallMs / ipe)).toFixed(3) : null,
    steadyRatios: ratios.map((x) => +x.toFixed(3)),
    steadyRatioMedian: ratios.length ? +median(ratios).toFixed(3) : null,
    endOfEpochMsMedian: steady.length ? +median(steady.map((r) => Object.values(r.endOfEpochMs).reduce((a, b) => a + b, 0))).toFixed(0) : null,
  }),
);
process.exit(0);
