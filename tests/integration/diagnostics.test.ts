/**
 * The diagnostics on real digits, with a real (small-budget) evaluator on wasm: the metrics mean what they say
 * (real vs real, noise, a one-image "generator"), the evaluator cache, the per-epoch hook on a GAN model, and
 * `npm run eval` on a checkpoint.
 *
 * The evaluator here trains 8 epochs instead of the default 60 to keep the file fast; the default one's
 * accuracy is measured by `npm run eval` / scripts/bench-diagnostics.ts (docs/diagnostics.md).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../lib/gan/backend";
import { writeCheckpoint } from "../../lib/gan/checkpoint";
import { parseConfig } from "../../lib/gan/config";
import { selectIndices, splitDataset, subsetDataset, type ImageDataset } from "../../lib/gan/data/dataset";
import { loadDataset } from "../../lib/gan/data/index";
import { DEFAULT_CLASSIFIER_TRAINING, trainClassifier, type Classifier } from "../../lib/gan/diagnostics/classifier";
import { CollapseDetector } from "../../lib/gan/diagnostics/collapse";
import { Diagnostics, pickReference, referenceIndices } from "../../lib/gan/diagnostics/diagnostics";
import { loadOrTrainEvaluator } from "../../lib/gan/diagnostics/evaluator";
import { computeMetrics, type QualityMetrics } from "../../lib/gan/diagnostics/metrics";
import { GanModel } from "../../lib/gan/model";
import { Rng } from "../../lib/gan/rng";
import { BUILTIN_SPECS } from "../../lib/gan/spec";

const root = path.resolve(__dirname, "../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-diagnostics-"));
const QUICK = { ...DEFAULT_CLASSIFIER_TRAINING, epochs: 8 };
const SEED = 1;
/** The metrics that are always a number (finite in a report, a number in eval's JSON line). */
const NUMERIC_METRICS = [
  "labelAccuracy",
  "coverage",
  "classEntropy",
  "frechetDistance",
  "precision",
  "recall",
  "diversity",
  "dRealMean",
  "dFakeMean",
  "classifierAccuracy",
] as const;

let full: ImageDataset;
let train: ImageDataset;
/** The validation split without `heldOut`: what this file's evaluator trains on. */
let fit: ImageDataset;
/** 50 validation images per label that neither the GAN nor this file's evaluator trains on. */
let heldOut: ImageDataset;
/** 50 training-split images per label: the real reference. */
let reference: ImageDataset;
let classifier: Classifier;

beforeAll(async () => {
  await initBackend("wasm");
  full = loadDataset("mnist-bundled");
  const split = splitDataset(full, { validationFraction: 1 / 6, seed: SEED });
  train = split.train;
  const held = referenceIndices(split.validation, 50, 77);
  const inHeldOut = new Set(held);
  heldOut = selectIndices(split.validation, held);
  fit = selectIndices(
    split.validation,
    [...Array(split.validation.count).keys()].filter((i) => !inHeldOut.has(i)),
  );
  reference = pickReference(train, 50, SEED);
  classifier = await trainClassifier(fit, { training: QUICK });
});

afterAll(() => {
  classifier?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe("the metrics mean what they say", () => {
  const metrics = (generated: Float32Array, generatedLabels: ArrayLike<number>): Promise<QualityMetrics> =>
    computeMetrics({ generated, generatedLabels, real: reference.images, realLabels: reference.labels, classifier });
  let realVsReal: QualityMetrics;
  let noise: QualityMetrics;

  it("the held-out images are disjoint from the evaluator's and the GAN's", () => {
    expect(fit.count + heldOut.count).toBe(splitDataset(full, { validationFraction: 1 / 6, seed: SEED }).validation.count);
    const key = (ds: ImageDataset, i: number) => ds.images.subarray(i * 784, (i + 1) * 784).join(",");
    const fitKeys = new Set(Array.from({ length: fit.count }, (_, i) => key(fit, i)));
    expect(Array.from({ length: heldOut.count }, (_, i) => key(heldOut, i)).filter((k) => fitKeys.has(k))).toEqual([]);
  });

  it("real held-out digits vs real training digits: all classes, high precision and recall, diversity ~1", async () => {
    realVsReal = await metrics(heldOut.images, heldOut.labels);
    console.log("real vs real", JSON.stringify({ ...realVsReal, perClass: undefined }));
    expect(realVsReal.coverage).toBe(10);
    expect(realVsReal.labelAccuracy).toBeGreaterThan(0.9);
    expect(realVsReal.precision).toBeGreaterThan(0.75);
    expect(realVsReal.recall).toBeGreaterThan(0.75);
    expect(realVsReal.diversity).toBeGreaterThan(0.85);
    expect(realVsReal.diversity).toBeLessThan(1.15);
  });

  it("uniform noise: a large distance, near-zero precision, and the evaluator reads it as no digit", async () => {
    const images = new Rng(5).uniform(new Float32Array(500 * 784), 0, 1);
    noise = await metrics(
      images,
      Int32Array.from({ length: 500 }, (_, i) => i % 10),
    );
    console.log("noise", JSON.stringify({ ...noise, perClass: undefined }));
    expect(noise.precision).toBeLessThan(0.02);
    expect(noise.recall).toBeLessThan(0.02);
    expect(noise.unrecognized).toBeGreaterThan(0.9);
    expect(realVsReal.frechetDistance).toBeLessThan(0.02 * noise.frechetDistance); // "near zero" next to noise
  });

  it("a 'generator' that draws one fixed digit for every label is flagged: coverage 1, diversity ~0, recall ~0", async () => {
    const three = heldOut.labels.indexOf(3);
    const images = new Float32Array(500 * 784);
    for (let i = 0; i < 500; i++) images.set(heldOut.images.subarray(three * 784, (three + 1) * 784), i * 784);
    const labels = Int32Array.from({ length: 500 }, (_, i) => Math.floor(i / 50));
    const m = await metrics(images, labels);
    expect(m.coverage).toBe(1);
    expect(m.diversity).toBeLessThan(0.01);
    expect(m.recall).toBeLessThan(0.02);
    expect(m.labelAccuracy).toBeCloseTo(0.1, 5);
    const detector = new CollapseDetector();
    const input = { ...m, dFakeMean: 0.3 };
    expect(detector.observe(input, 1)).toEqual([]);
    expect(
      detector
        .observe(input, 2)
        .map((a) => a.rule)
        .sort(),
    ).toEqual(["classDiversity", "coverage", "diversity"]);
  });
});

describe("the evaluator cache", () => {
  const small = () => subsetDataset(full, 1200);
  const opts = (ds: ImageDataset) => ({
    dataset: ds,
    seed: SEED,
    validationFraction: 1 / 6,
    cacheDir: path.join(tmp, "evaluators"),
    training: { ...QUICK, epochs: 2 },
  });

  it("trains on the validation split, measures on the training split, caches, and reloads the same network", async () => {
    const first = await loadOrTrainEvaluator(opts(small()));
    expect(first.cached).toBe(false);
    const split = splitDataset(small(), { validationFraction: 1 / 6, seed: SEED });
    expect(first.info.trainedOn).toMatchObject({ split: "validation", count: split.validation.count });
    expect(first.info.testedOn).toMatchObject({ split: "train", count: split.train.count });
    expect(first.info.accuracy).toBeGreaterThan(0.3);
    for (const f of ["model.json", "weights.bin", "evaluator.json"]) expect(existsSync(path.join(first.dir!, f))).toBe(true);
    const modelJson = JSON.parse(readFileSync(path.join(first.dir!, "model.json"), "utf8"));
    expect(modelJson.weightsManifest[0].paths).toEqual(["weights.bin"]);
    expect(modelJson.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual([
      "conv1/W",
      "conv1/b",
      "conv2/W",
      "conv2/b",
      "hidden/W",
      "hidden/b",
      "output/W",
      "output/b",
    ]);
    expect(JSON.parse(readFileSync(path.join(first.dir!, "evaluator.json"), "utf8")).accuracy).toBe(first.info.accuracy);

    const again = await loadOrTrainEvaluator(opts(small()));
    expect(again.cached).toBe(true);
    expect(again.info).toEqual(first.info);
    const some = reference.images.subarray(0, 100 * 784);
    const a = await first.classifier.predict(some, 100);
    const b = await again.classifier.predict(some, 100);
    expect(b.features).toEqual(a.features);
    first.classifier.dispose();
    again.classifier.dispose();
  });

  it("retrains when the data set changes, or when the cached files are damaged", async () => {
    const before = await loadOrTrainEvaluator(opts(small()));
    expect(before.cached).toBe(true);
    const changed = small();
    changed.labels = Int32Array.from(changed.labels);
    changed.labels[5] = (changed.labels[5]! + 1) % 10;
    const other = await loadOrTrainEvaluator(opts(changed));
    expect(other.cached).toBe(false);
    expect(other.info.key).not.toBe(before.info.key);
    writeFileSync(path.join(before.dir!, "weights.bin"), new Uint8Array(10));
    const repaired = await loadOrTrainEvaluator(opts(small()));
    expect(repaired.cached).toBe(false);
    expect(repaired.info.key).toBe(before.info.key);
    for (const e of [before, other, repaired]) e.classifier.dispose();
  });
});

describe("Diagnostics.evaluate, the per-epoch hook", () => {
  it("measures a GAN model: every metric finite, gradient norms per scope, repeatable, no tensor leak", async () => {
    const config = parseConfig({ network: "small-dcgan", seed: SEED });
    const model = new GanModel(BUILTIN_SPECS["small-dcgan"], SEED, config.optimizers);
    const info = { ...(await loadOrTrainEvaluator({ dataset: full, seed: SEED, cacheDir: null, training: { ...QUICK, epochs: 1 } })) };
    const diagnostics = await Diagnostics.create({ dataset: full, seed: SEED, evaluator: info, perLabel: 20 });
    try {
      const first = await diagnostics.evaluate(model, 1, { iteration: 130 });
      const tensors = tf.memory().numTensors;
      const second = await diagnostics.evaluate(model, 2, { iteration: 260 });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(second.metrics).toEqual(first.metrics);
      expect(first).toMatchObject({ epoch: 1, iteration: 130 });
      for (const k of NUMERIC_METRICS) {
        expect(Number.isFinite(first.metrics[k]), k).toBe(true);
      }
      expect(first.metrics.count).toBe(200);
      expect(first.metrics.classifierAccuracy).toBe(info.info.accuracy);
      expect(first.gradNorms.map((g) => g.scope)).toEqual(model.resolved.scopes.map((s) => s.scope));
      for (const g of first.gradNorms) expect(g.norm).toBeGreaterThan(0);
      expect(JSON.parse(JSON.stringify(first))).toEqual(first); // a JSON-ready event payload
      // an untrained generator draws the same blur for every z: the second observed epoch raises the alarm
      expect(first.alarms).toEqual([]);
      expect(second.alarms.map((a) => a.rule)).toContain("diversity");
      expect(second.activeAlarms).toContain("diversity");
      // on demand: measured, not observed
      const onDemand = await diagnostics.evaluate(model, 3, { observe: false, gradients: false });
      expect(onDemand.alarms).toEqual([]);
      expect(onDemand.gradNorms).toEqual([]);
      expect(onDemand.metrics).toEqual(first.metrics);
    } finally {
      diagnostics.dispose();
      info.classifier.dispose();
      model.dispose();
    }
  });
});

describe("npm run eval", () => {
  function run(args: string[]) {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "lib/gan/cli/eval.ts"), ...args], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, GAN_BACKEND: "wasm" },
      timeout: 120_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it("prints the tables, then one JSON line with every metric", async () => {
    const config = parseConfig({ network: "small-dcgan", seed: SEED });
    const model = new GanModel(BUILTIN_SPECS["small-dcgan"], SEED, config.optimizers);
    const dir = path.join(tmp, "ckpt");
    await writeCheckpoint(dir, {
      model,
      config,
      iteration: 0,
      iterationsPerEpoch: 130,
      dataset: { ref: "mnist-bundled", trainCount: 8334, numLabels: 10 },
      backend: "wasm",
      monitor: null,
    });
    model.dispose();
    const r = run([
      "--checkpoint",
      dir,
      "--json",
      "--backend",
      "wasm",
      "--cache",
      path.join(tmp, "cli-evaluators"),
      "--evaluator-epochs",
      "1",
      "--per-label",
      "10",
    ]);
    expect(r.stderr).toMatch(/evaluator: trained in .* accuracy .* on the 8334 train images it never saw/);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[1]).toMatch(/^\| metric +\| value +\| meaning/);
    expect(r.stdout).toMatch(/\| ParameterScope +\| part +\| gradient norm/);
    const json = JSON.parse(lines.at(-1)!);
    for (const k of NUMERIC_METRICS) {
      expect(typeof json[k], k).toBe("number");
    }
    expect(json).toMatchObject({ count: 100, epoch: 0, iteration: 0, evaluator: { cached: false, trainedOn: { split: "validation", count: 1666 } } });
    expect(existsSync(path.join(json.evaluator.dir, "evaluator.json"))).toBe(true);
  });

  it("refuses bad input with a clear message", () => {
    const none = run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--checkpoint is required");
    const missing = run(["--checkpoint", path.join(tmp, "nowhere")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/CheckpointError: no checkpoint at .*nowhere/);
    const bad = run(["--checkpoint", path.join(tmp, "ckpt"), "--per-label", "1"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--per-label must be an integer ≥ 2, got "1"');
  });
});
