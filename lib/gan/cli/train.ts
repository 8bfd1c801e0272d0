/**
 * npm run train -- [--config FILE] [--epochs N] [--limit N] [--out DIR] …
 * Trains headless with a progress bar; writes the config it ran with, a sample grid per epoch, the losses and
 * checkpoints (latest/, best/ with Save Best) into the output folder.
 */
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ConfigInput } from "../config";
import { Trainer } from "../trainer";
import { ProgressBar, UsageError, cliMain, intOption, reportBackend } from "./args";

const OPTIONS = {
  config: { type: "string", help: "Config JSON file (NNC's Config tab: maxEpoch, batchSize, saveBest, optimizers, …)" },
  epochs: { type: "string", help: "MaxEpoch (overrides the config)" },
  batch: { type: "string", help: "BatchSize (overrides the config)" },
  limit: { type: "string", help: "train on the first N training images only" },
  network: { type: "string", help: "nnc-dcgan-with-label (default) or small-dcgan" },
  dataset: {
    type: "string",
    help: "mnist-bundled (default), an imported data set id (ds-…, see npm run dataset -- list), an NNC dataset .csv, or a folder of IDX files",
  },
  seed: { type: "string", help: "seed for weights, batches and noise" },
  out: { type: "string", help: "output folder (default runs/<date-time>)" },
  resume: { type: "string", help: "continue the run saved in this checkpoint folder" },
  backend: { type: "string", help: "tensorflow | webgpu | wasm | cpu (default: GAN_BACKEND, else the fastest that works)" },
  diagnostics: { type: "string", help: "on (default) | off: quality and collapse measurements every epoch" },
  help: { type: "boolean", help: "show this help" },
} as const;
const USAGE = "Usage: npm run train -- [options]";

function readConfigFile(file: string): ConfigInput {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new UsageError(`config file ${file} cannot be read`);
  }
  try {
    return JSON.parse(text) as ConfigInput;
  } catch (e) {
    throw new UsageError(`config file ${file} is not JSON: ${(e as Error).message}`);
  }
}

cliMain(OPTIONS, USAGE, async (a) => {
  const config: Record<string, unknown> = a.config ? { ...readConfigFile(a.config) } : {};
  const set = (key: string, v: unknown) => {
    if (v !== undefined) config[key] = v;
  };
  set("maxEpoch", intOption("epochs", a.epochs));
  set("batchSize", intOption("batch", a.batch));
  set("limit", intOption("limit", a.limit));
  set("seed", intOption("seed", a.seed, 0));
  set("network", a.network);
  set("dataset", a.dataset);
  if (a.diagnostics !== undefined) {
    if (a.diagnostics !== "on" && a.diagnostics !== "off") throw new UsageError(`--diagnostics must be on or off, got "${a.diagnostics}"`);
    config.diagnostics = a.diagnostics === "on";
  }
  const out = path.resolve(a.out ?? path.join("runs", new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)));
  mkdirSync(path.join(out, "grids"), { recursive: true });

  const trainer = await Trainer.create({ config, outDir: out, ...(a.resume ? { resumeFrom: a.resume } : {}), ...(a.backend ? { backend: a.backend } : {}) });
  const { backend } = trainer;
  reportBackend(backend);
  for (const s of backend.skipped) process.stderr.write(`  skipped ${s.backend}: ${s.reason}\n`);
  const spec = trainer.model.resolved.spec;
  process.stderr.write(
    `network: ${spec.name}, ${trainer.train.count} training images, BatchSize ${trainer.config.batchSize}, ` +
      `MaxEpoch ${trainer.config.maxEpoch} (${trainer.iterationsPerEpoch} iterations each), output: ${out}\n`,
  );
  writeFileSync(path.join(out, "config.json"), `${JSON.stringify(trainer.config, null, 2)}\n`);
  const losses = createWriteStream(path.join(out, "losses.csv"), { flags: a.resume ? "a" : "w" });
  if (!a.resume) losses.write("iteration,epoch,GReal,Fake,Real\n");
  const diagnostics = createWriteStream(path.join(out, "diagnostics.jsonl"), { flags: a.resume ? "a" : "w" });

  const bar = new ProgressBar(trainer.totalIterations);
  const startIteration = trainer.iteration;
  const t0 = performance.now();
  let failed = "";
  trainer.on((e) => {
    switch (e.type) {
      case "losses": {
        const { GReal, Fake, Real } = e.losses;
        losses.write(`${e.iteration},${e.epoch},${GReal},${Fake},${Real}\n`);
        const done = e.iteration + 1;
        const rate = ((done - startIteration) * trainer.config.batchSize) / ((performance.now() - t0) / 1000);
        const eta = ((trainer.totalIterations - done) * trainer.config.batchSize) / rate;
        bar.update(
          done,
          `epoch ${e.epoch}/${trainer.config.maxEpoch} it ${done}/${trainer.totalIterations} ` +
            `GReal ${GReal.toFixed(3)} Fake ${Fake.toFixed(3)} Real ${Real.toFixed(3)} ${rate.toFixed(1)} img/s ETA ${formatSeconds(eta)}`,
        );
        break;
      }
      case "sampleGrid":
        writeFileSync(path.join(out, "grids", `epoch-${String(e.epoch).padStart(3, "0")}.png`), e.png);
        break;
      case "diagnostics": {
        diagnostics.write(`${JSON.stringify({ epoch: e.epoch, iteration: e.iteration, metrics: e.metrics, alarms: e.alarms })}\n`);
        const m = e.metrics;
        bar.note(
          `epoch ${e.epoch} diagnostics: label accuracy ${(100 * m.labelAccuracy).toFixed(1)}%, coverage ${m.coverage}/${m.numLabels}, ` +
            `Fréchet ${m.frechetDistance.toFixed(1)}, precision ${m.precision.toFixed(2)}, recall ${m.recall.toFixed(2)}, diversity ${m.diversity.toFixed(2)}` +
            (e.alarms.length ? `; COLLAPSE ALARM: ${e.alarms.map((x) => x.message).join("; ")}` : ""),
        );
        break;
      }
      case "checkpoint":
        if (!process.stderr.isTTY) process.stderr.write(`checkpoint ${e.kind}: epoch ${e.epoch}, ${(e.bytes / 2 ** 20).toFixed(1)} MiB in ${e.dir}\n`);
        break;
      case "error":
        failed = e.message;
        break;
      default:
    }
  });
  const stop = () => trainer.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const status = await trainer.start();
  bar.done();
  await new Promise((r) => losses.end(r));
  await new Promise((r) => diagnostics.end(r));
  trainer.dispose();
  const seconds = (performance.now() - t0) / 1000;
  const images = (trainer.iteration - startIteration) * trainer.config.batchSize;
  process.stderr.write(
    `${status} at iteration ${trainer.iteration} after ${formatSeconds(seconds)} (${(images / seconds).toFixed(1)} images/s on ${backend.name})\n`,
  );
  if (status === "failed") throw new Error(failed || "training failed");
  console.log(out);
});

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${s.toFixed(1)}s`;
}
