/**
 * The whole loop against the step, in ONE process (so the machine's drift between processes drops out):
 * bench:train's step, then a Trainer run on the defaults (NNC's network, bundled digits, diagnostics and a
 * checkpoint every epoch) timed event by event, then the step again.
 *   npx tsx scripts/bench-loop-probe.ts [EPOCHS]        (default 1; prints a table, then one JSON line)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { benchTrain, median } from "../lib/gan/bench";
import { Trainer } from "../lib/gan/trainer";

const epochs = Number(process.argv[2] ?? 1);
const out = mkdtempSync(path.join(tmpdir(), "gan-loop-"));
const trainer = await Trainer.create({ config: { maxEpoch: epochs }, outDir: out, backend: "wasm" });
const before = await benchTrain({ spec: "nnc-dcgan-with-label", batch: 64, iters: 20, backend: "wasm" });
const step: number[] = [];
const endOfEpoch = new Map<string, number>();
let last = 0;
trainer.on((e) => {
  const now = performance.now();
  if (e.type === "losses") step.push(e.msPerIter);
  else if (e.type === "sampleGrid" || e.type === "diagnostics" || e.type === "checkpoint") endOfEpoch.set(e.type, (endOfEpoch.get(e.type) ?? 0) + now - last);
  last = now;
});
last = performance.now();
const t0 = last;
await trainer.start();
const wall = performance.now() - t0;
const after = await benchTrain({ spec: "nnc-dcgan-with-label", batch: 64, iters: 20, backend: "wasm" });
trainer.dispose();
rmSync(out, { recursive: true, force: true });
const wallPerIteration = wall / step.length;
console.log("| what | ms per iteration |\n| --- | --- |");
console.log(`| bench:train's step, before | ${before.msPerIter.toFixed(1)} |`);
console.log(`| the Trainer's step (median) | ${median(step).toFixed(1)} |`);
for (const [k, v] of endOfEpoch) console.log(`| ${k}, per iteration | ${(v / step.length).toFixed(1)} |`);
console.log(`| the Trainer's wall time | ${wallPerIteration.toFixed(1)} |`);
console.log(`| bench:train's step, after | ${after.msPerIter.toFixed(1)} |`);
console.log(
  JSON.stringify({
    epochs,
    iterations: step.length,
    benchMsBefore: +before.msPerIter.toFixed(1),
    benchMsAfter: +after.msPerIter.toFixed(1),
    trainerStepMs: +median(step).toFixed(1),
    trainerWallMs: +wallPerIteration.toFixed(1),
    endOfEpochMs: Object.fromEntries([...endOfEpoch].map(([k, v]) => [k, +v.toFixed(0)])),
    ratioWallToBenchAfter: +(after.msPerIter / wallPerIteration).toFixed(3),
  }),
);
process.exit(0);
