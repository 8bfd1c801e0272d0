/**
 * What the diagnostics cost next to training:
 *
 *   npx tsx scripts/bench-diagnostics.ts [--backend wasm] [--spec nnc-dcgan-with-label] [--evals 5] [--iters 10]
 *     epochMs = iterationsPerEpoch (default data set and Config) × the median training step of lib/gan/bench.ts's
 *     benchTrain; evaluateMs = the median of `--evals` calls of Diagnostics.evaluate (after one warm-up call).
 *
 *   … --epochs N
 *     additionally trains the model on the data set for N epochs (the trainer's batches and noise) and evaluates
 *     after each: the metrics per epoch, each epoch's measured time and each evaluation's.
 *
 * Prints a table, then one JSON line { "evaluateMs", "epochMs", "ratio", … } last.
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/gan/backend";
import { benchTrain, median } from "../lib/gan/bench";
import { builtinSpecOption, cliMain, intOption, reportBackend, table } from "../lib/gan/cli/args";
import { parseConfig } from "../lib/gan/config";
import { epochOrder, gatherBatch, iterationsPerEpoch, splitDataset } from "../lib/gan/data/dataset";
import { loadDataset } from "../lib/gan/data/index";
import { Diagnostics, type DiagnosticsReport } from "../lib/gan/diagnostics/diagnostics";
import { GanModel } from "../lib/gan/model";
import { BUILTIN_SPECS } from "../lib/gan/spec";

const OPTIONS = {
  backend: { type: "string", help: "tensorflow | webgpu | wasm | cpu (default: GAN_BACKEND, else the fastest)" },
  spec: { type: "string", help: "nnc-dcgan-with-label (default) or small-dcgan" },
  evals: { type: "string", help: "timed evaluate calls (default 5)" },
  iters: { type: "string", help: "timed training steps for the epoch estimate (default 10)" },
  epochs: { type: "string", help: "also train this many real epochs, evaluating after each (default 0)" },
  cache: { type: "string", help: "evaluator cache folder (default data/evaluators)" },
  help: { type: "boolean", help: "show this help" },
} as const;
const USAGE = "Usage: npx tsx scripts/bench-diagnostics.ts [--backend wasm] [--evals 5] [--epochs N]";

const f = (x: number, d = 1) => x.toFixed(d);

cliMain(OPTIONS, USAGE, async (a) => {
  const specName = builtinSpecOption(a.spec);
  const evals = intOption("evals", a.evals) ?? 5;
  const iters = intOption("iters", a.iters) ?? 10;
  const epochs = intOption("epochs", a.epochs, 0) ?? 0;
  const backend = await initBackend(a.backend);
  reportBackend(backend);

  const config = parseConfig({ network: specName });
  const dataset = loadDataset(config.dataset);
  const { train } = splitDataset(dataset, { validationFraction: config.validationFraction, seed: config.seed });
  const perEpoch = iterationsPerEpoch(train.count, config.batchSize);
  const bench = await benchTrain({ spec: specName, batch: config.batchSize, iters, backend: backend.name });
  const epochMs = perEpoch * bench.msPerIter;
  process.stderr.write(`training step: ${f(bench.msPerIter)} ms median → epoch of ${perEpoch} iterations ≈ ${f(epochMs / 1000)} s\n`);

  const t0 = performance.now();
  const diagnostics = await Diagnostics.create({
    dataset,
    seed: config.seed,
    validationFraction: config.validationFraction,
    ...(a.cache ? { cacheDir: a.cache } : {}),
    onEvaluatorEpoch: (p) => p.epoch % 10 === 0 && process.stderr.write(`evaluator epoch ${p.epoch}/${p.epochs}, ${f(p.seconds)} s\n`),
  });
  const createMs = performance.now() - t0;
  const info = diagnostics.evaluatorInfo;
  process.stderr.write(
    `evaluator ${diagnostics.evaluator.cached ? "cached" : "trained"}: accuracy ${f(info.accuracy * 100, 2)}% on ${info.testedOn.count} ${info.testedOn.split} images (create ${f(createMs / 1000)} s)\n`,
  );

  const model = new GanModel(BUILTIN_SPECS[specName], config.seed, config.optimizers);
  try {
    await diagnostics.evaluate(model, 0, { observe: false }); // warm-up: kernels, label planes
    const before = tf.memory().numTensors;
    const reports: DiagnosticsReport[] = [];
    for (let i = 0; i < evals; i++) reports.push(await diagnostics.evaluate(model, 0, { observe: false }));
    const leaked = tf.memory().numTensors - before;
    const stage = (k: keyof DiagnosticsReport["timings"]) => median(reports.map((r) => r.timings[k]));
    const evaluateMs = stage("total");
    console.log(
      table(
        [
          "backend",
          "spec",
          "iterations/epoch",
          "step ms (median)",
          "epoch s",
          "evaluate ms (median)",
          "generate",
          "evaluator",
          "metrics",
          "D(x)",
          "gradients",
          "ratio",
        ],
        [
          [
            backend.name,
            specName,
            String(perEpoch),
            f(bench.msPerIter),
            f(epochMs / 1000),
            f(evaluateMs),
            f(stage("generate")),
            f(stage("evaluator")),
            f(stage("metrics")),
            f(stage("discriminator")),
            f(stage("gradients")),
            `${f((100 * evaluateMs) / epochMs, 2)}%`,
          ],
        ],
      ),
    );

    const trained: { epoch: number; epochMs: number; evaluateMs: number; metrics: DiagnosticsReport["metrics"]; alarms: string[] }[] = [];
    if (epochs > 0) {
      const training = new GanModel(BUILTIN_SPECS[specName], config.seed, config.optimizers);
      try {
        const size = train.height * train.width * train.channels;
        const batch = { images: new Float32Array(config.batchSize * size), labels: new Int32Array(config.batchSize) };
        let iteration = 0;
        for (let epoch = 0; epoch < epochs; epoch++) {
          const order = epochOrder(train.count, config.seed, epoch);
          const e0 = performance.now();
          for (let j = 0; j < perEpoch; j++, iteration++) {
            gatherBatch(train, order, j * config.batchSize, config.batchSize, batch);
            await training.trainStep(batch, iteration);
          }
          const e1 = performance.now();
          const r = await diagnostics.evaluate(training, epoch + 1, { iteration });
          trained.push({ epoch: epoch + 1, epochMs: e1 - e0, evaluateMs: r.timings.total, metrics: r.metrics, alarms: r.alarms.map((x) => x.rule) });
          process.stderr.write(`epoch ${epoch + 1}: ${f((e1 - e0) / 1000)} s training, ${f(r.timings.total)} ms diagnostics\n`);
        }
      } finally {
        training.dispose();
      }
      console.log("");
      console.log(
        table(
          [
            "epoch",
            "epoch s",
            "evaluate ms",
            "ratio",
            "labelAcc",
            "unrecog.",
            "coverage",
            "entropy",
            "FD",
            "precision",
            "recall",
            "diversity",
            "D(real)",
            "D(fake)",
            "alarms",
          ],
          trained.map((t) => {
            const m = t.metrics;
            return [
              String(t.epoch),
              f(t.epochMs / 1000),
              f(t.evaluateMs),
              `${f((100 * t.evaluateMs) / t.epochMs, 2)}%`,
              f(m.labelAccuracy, 3),
              f(m.unrecognized, 3),
              String(m.coverage),
              f(m.classEntropy, 2),
              f(m.frechetDistance, 1),
              f(m.precision, 3),
              f(m.recall, 3),
              f(m.diversity, 2),
              f(m.dRealMean, 3),
              f(m.dFakeMean, 3),
              t.alarms.join(" ") || "—",
            ];
          }),
        ),
      );
    }
    console.log(
      JSON.stringify({
        evaluateMs,
        epochMs,
        ratio: evaluateMs / epochMs,
        backend: backend.name,
        spec: specName,
        iterationsPerEpoch: perEpoch,
        stepMs: bench.msPerIter,
        evaluatorAccuracy: info.accuracy,
        createMs,
        tensorsLeaked: leaked,
        ...(trained.length > 0
          ? {
              epochs: trained.map((t) => ({
                epoch: t.epoch,
                epochMs: t.epochMs,
                evaluateMs: t.evaluateMs,
                ratio: t.evaluateMs / t.epochMs,
                ...t.metrics,
                alarms: t.alarms,
              })),
            }
          : {}),
      }),
    );
  } finally {
    model.dispose();
    diagnostics.dispose();
  }
});
