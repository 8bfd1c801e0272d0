/**
 * npm run bench:train -- --backend wasm --batch 64 --iters 10 --json
 * Prints a table, then (with --json) one JSON line per batch size, the last line last:
 * {"backend","spec","batch","imagesPerSec","msPerIter","tensorsAfter", …}
 */
import { initBackend } from "../backend";
import { benchTable, benchTrain, type BenchResult } from "../bench";

import { builtinSpecOption, cliMain, intOption, reportBackend } from "./args";

const OPTIONS = {
  backend: { type: "string", help: "tensorflow | webgpu | wasm | cpu (default: GAN_BACKEND, else the fastest)" },
  spec: { type: "string", help: "nnc-dcgan-with-label (default) or small-dcgan" },
  batch: { type: "string", help: "batch size, or a list: 64,256,1024 (default 64)" },
  iters: { type: "string", help: "timed iterations (default 10)" },
  warmup: { type: "string", help: "untimed iterations first (default 2)" },
  json: { type: "boolean", help: "print a JSON line per result after the table" },
  help: { type: "boolean", help: "show this help" },
} as const;
const USAGE = "Usage: npm run bench:train -- [--backend wasm] [--batch 64] [--iters 10] [--json]";

cliMain(OPTIONS, USAGE, async (a) => {
  const spec = builtinSpecOption(a.spec);
  const batches = (a.batch ?? "64").split(",").map((b) => intOption("batch", b.trim())!);
  const iters = intOption("iters", a.iters) ?? 10;
  const warmup = intOption("warmup", a.warmup, 0) ?? 2;
  const backend = await initBackend(a.backend);
  reportBackend(backend);
  const rows: BenchResult[] = [];
  for (const batch of batches) {
    rows.push(await benchTrain({ spec, batch, iters, warmup, backend: backend.name }));
    process.stderr.write(`batch ${batch}: ${rows.at(-1)!.imagesPerSec.toFixed(1)} images/s\n`);
  }
  console.log(benchTable(rows));
  if (a.json) for (const r of rows) console.log(JSON.stringify(r));
});
