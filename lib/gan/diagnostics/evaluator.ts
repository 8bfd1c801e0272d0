/**
 * The evaluator, trained once per data set and cached next to it.
 *
 * Which images it uses, with the run's split (`splitDataset(ds, { validationFraction, seed })`, the trainer's):
 *   - it trains on the whole validation split (the images the GAN never trains on), with augmentation;
 *   - its accuracy is measured on the training split, images it never saw (8,333 for the bundled MNIST).
 *
 * Cache: `<cacheDir>/<data set name>-<key>/` (default cacheDir `data/evaluators`), key = the first 16 hex digits of
 * SHA-256 over the data set's images and labels, the split (seed, validationFraction) and the classifier's spec
 * and training options. Another data set, split or spec gives another key, so the evaluator is retrained.
 *
 *   model.json       { format: "gan-studio-evaluator", formatVersion, weightsManifest (tf.io layout), userDefinedMetadata }
 *   weights.bin      the classifier's weights, float32 little-endian, in manifest order
 *   evaluator.json   the same metadata alone: key, accuracy and which images it was trained and measured on
 *
 * Written to a temporary folder and renamed into place (two processes racing write the same thing).
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { activeBackend } from "../backend";
import { splitDataset, type ImageDataset } from "../data/dataset";
import { packWeights, unpackWeights } from "../weights-file";
import {
  Classifier,
  DEFAULT_CLASSIFIER_SPEC,
  DEFAULT_CLASSIFIER_TRAINING,
  classifierParameters,
  trainClassifier,
  type ClassifierSpec,
  type ClassifierTraining,
  type TrainProgress,
} from "./classifier";
import { DEFAULT_EVALUATOR_DIR } from "./defaults";

export { DEFAULT_EVALUATOR_DIR } from "./defaults";

export const EVALUATOR_FORMAT = "gan-studio-evaluator";
export const EVALUATOR_VERSION = 1;

const ImageSetSchema = z.object({
  /** Which part of the split: "validation" or "train". */
  split: z.enum(["train", "validation"]),
  count: z.number().int().min(0),
  perLabel: z.array(z.number().int().min(0)),
});

export const EvaluatorInfoSchema = z.object({
  format: z.literal(EVALUATOR_FORMAT),
  formatVersion: z.literal(EVALUATOR_VERSION),
  key: z.string(),
  dataset: z.object({ name: z.string(), count: z.number().int(), seed: z.number().int(), validationFraction: z.number() }),
  spec: z.object({
    name: z.string(),
    convolutions: z.array(z.object({ maps: z.number().int(), kernel: z.number().int(), stride: z.number().int() })),
    hidden: z.number().int(),
    reject: z.boolean(),
  }),
  training: z.object({
    epochs: z.number().int(),
    batchSize: z.number().int(),
    learningRate: z.number(),
    finalLearningRate: z.number(),
    maxShift: z.number(),
    maxRotation: z.number(),
    maxScale: z.number(),
    dropout: z.number(),
    negativeShare: z.number(),
    seed: z.number().int(),
  }),
  image: z.object({ height: z.number().int(), width: z.number().int(), channels: z.number().int(), numLabels: z.number().int() }),
  /** Share of `testedOn` images read correctly. */
  accuracy: z.number(),
  trainedOn: ImageSetSchema,
  testedOn: ImageSetSchema,
  trainSeconds: z.number(),
  backend: z.string(),
  createdAt: z.string(),
});
export type EvaluatorInfo = z.infer<typeof EvaluatorInfoSchema>;

export interface EvaluatorOptions {
  /** The whole data set, as the Config names it (not split). */
  dataset: ImageDataset;
  /** The run's split: the trainer's seed and validationFraction. */
  seed: number;
  validationFraction?: number;
  /** Where evaluators are cached (default data/evaluators); null: no cache, always train. */
  cacheDir?: string | null;
  spec?: ClassifierSpec;
  training?: ClassifierTraining;
  /** Train even when a cached one exists (and replace it). */
  retrain?: boolean;
  onEpoch?: (p: TrainProgress) => void;
}

export interface Evaluator {
  classifier: Classifier;
  info: EvaluatorInfo;
  /** Whether it came from the cache. */
  cached: boolean;
  /** Its cache folder (null without a cache). */
  dir: string | null;
}

/** The cache key: SHA-256 over the images, labels, split and classifier options (16 hex digits). */
export function evaluatorKey(ds: ImageDataset, seed: number, validationFraction: number, spec: ClassifierSpec, training: ClassifierTraining): string {
  const h = createHash("sha256");
  h.update(
    JSON.stringify({
      format: EVALUATOR_FORMAT,
      version: EVALUATOR_VERSION,
      shape: [ds.count, ds.height, ds.width, ds.channels, ds.numLabels],
      seed,
      validationFraction,
      spec,
      training,
    }),
  );
  h.update(new Uint8Array(ds.images.buffer, ds.images.byteOffset, ds.images.byteLength));
  h.update(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, ds.labels.byteLength));
  return h.digest("hex").slice(0, 16);
}

const perLabel = (ds: ImageDataset) => {
  const counts = new Array<number>(ds.numLabels).fill(0);
  for (const l of ds.labels) counts[l] = counts[l]! + 1;
  return counts;
};

async function readCached(dir: string, key: string): Promise<{ info: EvaluatorInfo; weights: Map<string, Float32Array> } | null> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(path.join(dir, "model.json"), "utf8"));
  } catch {
    return null;
  }
  const parsed = z
    .object({
      format: z.literal(EVALUATOR_FORMAT),
      formatVersion: z.literal(EVALUATOR_VERSION),
      weightsManifest: z
        .array(
          z.object({
            paths: z.array(z.string()).length(1),
            weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int()), dtype: z.literal("float32") })),
          }),
        )
        .length(1),
      userDefinedMetadata: EvaluatorInfoSchema,
    })
    .safeParse(json);
  if (!parsed.success || parsed.data.userDefinedMetadata.key !== key) return null;
  const group = parsed.data.weightsManifest[0]!;
  const bytes = await fs.readFile(path.join(dir, group.paths[0]!)).catch(() => null);
  if (!bytes) return null;
  const tensors = unpackWeights(group.weights, bytes);
  if (!tensors) return null;
  const weights = new Map<string, Float32Array>();
  for (const [name, t] of tensors) weights.set(name, t.values);
  return { info: parsed.data.userDefinedMetadata, weights };
}

async function writeCached(dir: string, classifier: Classifier, info: EvaluatorInfo): Promise<void> {
  const packed = packWeights(await classifier.readWeights());
  const modelJson = {
    format: EVALUATOR_FORMAT,
    formatVersion: EVALUATOR_VERSION,
    generatedBy: "GAN Studio",
    weightsManifest: [{ paths: ["weights.bin"], weights: packed.weights }],
    userDefinedMetadata: info,
  };
  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  await fs.mkdir(tmp, { recursive: true });
  await fs.writeFile(path.join(tmp, "weights.bin"), packed.bytes);
  await fs.writeFile(path.join(tmp, "model.json"), JSON.stringify(modelJson, null, 1));
  await fs.writeFile(path.join(tmp, "evaluator.json"), `${JSON.stringify(info, null, 2)}\n`);
  await fs.rm(target, { recursive: true, force: true });
  try {
    await fs.rename(tmp, target);
  } catch (e) {
    // Another process put the same evaluator (same key, same training) there first: keep theirs.
    await fs.rm(tmp, { recursive: true, force: true });
    if (!(await readCached(target, info.key))) throw e;
  }
}

/**
 * The evaluator for a data set and split: loaded from the cache when its key matches, else trained on the
 * validation split, measured on the training split, and cached.
 */
export async function loadOrTrainEvaluator(opts: EvaluatorOptions): Promise<Evaluator> {
  const ds = opts.dataset;
  const fraction = opts.validationFraction ?? 1 / 6;
  const spec = opts.spec ?? DEFAULT_CLASSIFIER_SPEC;
  const training = opts.training ?? DEFAULT_CLASSIFIER_TRAINING;
  const shape = { height: ds.height, width: ds.width, channels: ds.channels, numLabels: ds.numLabels };
  const key = evaluatorKey(ds, opts.seed, fraction, spec, training);
  const cacheDir = opts.cacheDir === undefined ? DEFAULT_EVALUATOR_DIR : opts.cacheDir;
  const dir = cacheDir === null ? null : path.join(cacheDir, `${ds.name.replace(/[^A-Za-z0-9._-]+/g, "_")}-${key}`);
  if (dir && !opts.retrain) {
    const hit = await readCached(dir, key);
    if (hit) {
      // a file that fits the key but not the spec is rebuilt below
      const names = classifierParameters(spec, shape).map((p) => p.name);
      if (names.every((n) => hit.weights.has(n))) {
        return { classifier: new Classifier(spec, shape, { weights: hit.weights }), info: hit.info, cached: true, dir };
      }
    }
  }
  const { train, validation } = splitDataset(ds, { validationFraction: fraction, seed: opts.seed });
  if (validation.count === 0) throw new RangeError(`the evaluator trains on the validation split, which is empty (validationFraction ${fraction})`);
  const t0 = performance.now();
  const classifier = await trainClassifier(validation, { spec, training, ...(opts.onEpoch ? { onEpoch: opts.onEpoch } : {}) });
  const trainSeconds = (performance.now() - t0) / 1000;
  try {
    const accuracy = await classifier.accuracy(train);
    const info: EvaluatorInfo = {
      format: EVALUATOR_FORMAT,
      formatVersion: EVALUATOR_VERSION,
      key,
      dataset: { name: ds.name, count: ds.count, seed: opts.seed, validationFraction: fraction },
      spec,
      training,
      image: shape,
      accuracy,
      trainedOn: { split: "validation", count: validation.count, perLabel: perLabel(validation) },
      testedOn: { split: "train", count: train.count, perLabel: perLabel(train) },
      trainSeconds,
      backend: activeBackend()?.name ?? "unknown",
      createdAt: new Date().toISOString(),
    };
    if (dir) await writeCached(dir, classifier, info);
    return { classifier, info, cached: false, dir };
  } catch (e) {
    classifier.dispose();
    throw e;
  }
}
