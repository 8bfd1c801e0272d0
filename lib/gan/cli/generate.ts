/**
 * npm run generate -- --checkpoint DIR --label 7 [--seed 42] [--count 8] [--interpolate SEED_B --steps 8] --out x.png
 * Runs the RuntimeGenerator of a checkpoint and writes a PNG (several images side by side when count > 1).
 */
import { writeFileSync } from "node:fs";
import { initBackend } from "../backend";
import { resolveCheckpointDir } from "../checkpoint";
import { RuntimeGenerator } from "../generator";
import { cliMain, intOption, requireOption } from "./args";

const OPTIONS = {
  checkpoint: { type: "string", help: "checkpoint folder (e.g. runs/…/latest), or a run folder (its latest/)" },
  label: { type: "string", help: "label to generate (default 0)" },
  seed: { type: "string", help: "noise seed (default 0)" },
  count: { type: "string", help: "images, side by side (default 1)" },
  interpolate: { type: "string", help: "a second seed: walk from --seed to it" },
  steps: { type: "string", help: "interpolation steps (default 8)" },
  out: { type: "string", help: "output PNG file" },
  backend: { type: "string", help: "tensorflow | webgpu | wasm | cpu" },
  help: { type: "boolean", help: "show this help" },
} as const;
const USAGE = "Usage: npm run generate -- --checkpoint DIR --label N --out FILE.png [options]";

cliMain(OPTIONS, USAGE, async (a) => {
  const given = requireOption(OPTIONS, USAGE, "checkpoint", a.checkpoint);
  const out = requireOption(OPTIONS, USAGE, "out", a.out);
  // A run folder (npm run train --out) means its latest checkpoint.
  const { dir: checkpoint, run } = await resolveCheckpointDir(given);
  if (run) process.stderr.write(`using the run's latest checkpoint: ${checkpoint}\n`);
  const backend = await initBackend(a.backend);
  const gen = await RuntimeGenerator.fromCheckpoint(checkpoint);
  const label = intOption("label", a.label, 0) ?? 0;
  const seed = intOption("seed", a.seed, 0) ?? 0;
  const result =
    a.interpolate !== undefined
      ? await gen.interpolate({ label, seedA: seed, seedB: intOption("interpolate", a.interpolate, 0)!, steps: intOption("steps", a.steps, 2) ?? 8 })
      : await gen.generate({ label, seed, count: intOption("count", a.count) ?? 1 });
  writeFileSync(out, result.count === 1 ? result.png[0]! : result.stripPng);
  gen.dispose();
  process.stderr.write(`wrote ${out}: ${result.count} image(s) of label ${label}, ${result.width}×${result.height}, on ${backend.name}\n`);
});
