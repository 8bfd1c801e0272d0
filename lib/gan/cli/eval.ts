/**
 * npm run eval -- --checkpoint DIR [--json] [--backend wasm] [--cache DIR] [--per-label 50] [--retrain]
 * Measures a checkpoint's generator with the diagnostics (docs/diagnostics.md): loads its model and its data set
 * (from the checkpoint's Config), trains or loads the cached evaluator, and prints a table of the metrics, the
 * per-label figures and the gradient norms; with --json, then one JSON line with every metric.
 */
import { readCheckpoint, resolveCheckpointDir } from "../checkpoint";
import { DEFAULT_EVALUATOR_DIR, DEFAULT_EVALUATOR_EPOCHS, DEFAULT_PER_LABEL } from "../diagnostics/defaults";
import type { DiagnosticsMetrics } from "../diagnostics/diagnostics";
import { cliMain, intOption, reportBackend, requireOption, table } from "./args";

const OPTIONS = {
  checkpoint: { type: "string", help: "checkpoint folder (e.g. runs/…/latest), or a run folder (its latest/)" },
  json: { type: "boolean", help: "print one JSON line with every metric after the tables" },
  backend: { type: "string", help: "tensorflow | webgpu | wasm | cpu (default: GAN_BACKEND, else the fastest that works)" },
  cache: { type: "string", help: `evaluator cache folder (default ${DEFAULT_EVALUATOR_DIR})` },
  "per-label": { type: "string", help: `generated images per label in the evaluation batch (default ${DEFAULT_PER_LABEL})` },
  retrain: { type: "boolean", help: "train the evaluator again even when it is cached" },
  "evaluator-epochs": { type: "string", help: `evaluator training epochs (default ${DEFAULT_EVALUATOR_EPOCHS}; another value is another cache entry)` },
  help: { type: "boolean", help: "show this help" },
} as const;
const USAGE = "Usage: npm run eval -- --checkpoint DIR [--json] [options]";

/** What each metric says, for the table. */
const MEANING: Record<keyof DiagnosticsMetrics, string> = {
  labelAccuracy: "generated images the evaluator reads as the label asked for",
  unrecognized: "generated images the evaluator reads as not a digit",
  coverage: "classes found among the generated images",
  classEntropy: "entropy of the predicted-class histogram, bits",
  frechetDistance: "Fréchet distance to real features (lower is better)",
  precision: "generated images inside the real k-NN manifold (realism)",
  recall: "real images inside the generated k-NN manifold (variety)",
  diversity: "within-label spread, generated / real (mean over labels)",
  minClassDiversity: "lowest per-label diversity ratio",
  minDiversityLabel: "label with the lowest diversity",
  dRealMean: "mean D(x) on real images",
  dFakeMean: "mean D(x) on generated images",
  classifierAccuracy: "evaluator's accuracy on real images it never saw",
  numLabels: "labels",
  count: "generated images measured",
};

const show = (x: number | null) => (x === null ? "—" : Number.isInteger(x) ? String(x) : x.toFixed(4));

cliMain(OPTIONS, USAGE, async (a) => {
  const given = requireOption(OPTIONS, USAGE, "checkpoint", a.checkpoint);
  // A run folder (npm run train --out) means its latest checkpoint.
  const { dir: checkpoint, run } = await resolveCheckpointDir(given);
  if (run) process.stderr.write(`using the run's latest checkpoint: ${checkpoint}\n`);
  const perLabel = intOption("per-label", a["per-label"], 2);
  const evaluatorEpochs = intOption("evaluator-epochs", a["evaluator-epochs"]);
  const ckpt = await readCheckpoint(checkpoint, { weightsOnly: true });
  const { config } = ckpt.meta;
  // TensorFlow.js and the rest load only now: a usage error or a missing checkpoint answers at once.
  const [{ initBackend }, { loadDataset }, { DEFAULT_CLASSIFIER_TRAINING }, { Diagnostics }, { GanModel }] = await Promise.all([
    import("../backend"),
    import("../data/index"),
    import("../diagnostics/classifier"),
    import("../diagnostics/diagnostics"),
    import("../model"),
  ]);
  const backend = await initBackend(a.backend);
  reportBackend(backend);
  const model = new GanModel(ckpt.meta.spec, config.seed, config.optimizers);
  try {
    model.store.write(ckpt.weights);
    const dataset = loadDataset(config.dataset);
    const t0 = performance.now();
    const diagnostics = await Diagnostics.create({
      dataset,
      seed: config.seed,
      validationFraction: config.validationFraction,
      ...(a.cache ? { cacheDir: a.cache } : {}),
      ...(perLabel !== undefined ? { perLabel } : {}),
      evaluatorOptions: {
        ...(a.retrain ? { retrain: true } : {}),
        ...(evaluatorEpochs !== undefined ? { training: { ...DEFAULT_CLASSIFIER_TRAINING, epochs: evaluatorEpochs } } : {}),
      },
      onEvaluatorEpoch: (p) => {
        if (p.epoch === 1 || p.epoch % 10 === 0 || p.epoch === p.epochs) {
          process.stderr.write(`evaluator epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)}, ${p.seconds.toFixed(1)} s\n`);
        }
      },
    });
    try {
      const ev = diagnostics.evaluator;
      const info = ev.info;
      process.stderr.write(
        `evaluator: ${ev.cached ? "cached" : `trained in ${info.trainSeconds.toFixed(1)} s`} (${ev.dir ?? "not cached"}), ` +
          `trained on the ${info.trainedOn.count} ${info.trainedOn.split} images, ` +
          `accuracy ${(info.accuracy * 100).toFixed(2)}% on the ${info.testedOn.count} ${info.testedOn.split} images it never saw ` +
          `(${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
      );
      const report = await diagnostics.evaluate(model, ckpt.meta.epoch, { iteration: ckpt.meta.iteration });
      const m = report.metrics;
      console.log(
        `Checkpoint ${checkpoint}: epoch ${show(ckpt.meta.epoch)}, iteration ${ckpt.meta.iteration}, network ${ckpt.meta.spec.name}, data set ${config.dataset}`,
      );
      console.log(
        table(
          ["metric", "value", "meaning"],
          (Object.keys(MEANING) as (keyof DiagnosticsMetrics)[]).map((k) => [k, show(m[k]), MEANING[k]]),
        ),
      );
      console.log("");
      console.log(
        table(
          ["label", "asked", "predicted", "labelAccuracy", "diversity", "spread (gen)", "spread (real)"],
          report.perClass.map((c) => [
            String(c.label),
            String(c.requested),
            String(c.predicted),
            show(c.labelAccuracy),
            show(c.diversity),
            show(c.generatedSpread),
            show(c.realSpread),
          ]),
        ),
      );
      if (report.gradNorms.length > 0) {
        console.log("");
        console.log(
          table(
            ["ParameterScope", "part", "gradient norm"],
            report.gradNorms.map((g) => [g.scope, g.part, g.norm.toExponential(3)]),
          ),
        );
      }
      process.stderr.write(`evaluated ${m.count} generated images in ${(report.timings.total / 1000).toFixed(2)} s\n`);
      if (a.json) {
        console.log(
          JSON.stringify({
            ...m,
            checkpoint: checkpoint,
            epoch: ckpt.meta.epoch,
            iteration: ckpt.meta.iteration,
            gradNorms: Object.fromEntries(report.gradNorms.map((g) => [g.scope, g.norm])),
            evaluator: { key: info.key, dir: ev.dir, cached: ev.cached, trainedOn: info.trainedOn, testedOn: info.testedOn, trainSeconds: info.trainSeconds },
            backend: backend.name,
            evaluateMs: report.timings.total,
          }),
        );
      }
    } finally {
      diagnostics.dispose();
    }
  } finally {
    model.dispose();
  }
});
