/**
 * The trainer on the real wasm backend with the real training step, on a tiny config (small DCGAN, a few dozen
 * bundled digits): controls, events, leaks, checkpoints and exact resume.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../lib/gan/backend";
import { ModelJsonSchema, readCheckpoint, writeCheckpoint } from "../../lib/gan/checkpoint";
import { parseConfig } from "../../lib/gan/config";
import { GanModel } from "../../lib/gan/model";
import { SMALL_DCGAN } from "../../lib/gan/spec";
import type { ConfigInput } from "../../lib/gan/config";
import { RuntimeGenerator } from "../../lib/gan/generator";
import { Trainer, type TrainerEvent } from "../../lib/gan/trainer";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-trainer-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend("wasm");
});

/** 48 training images at batch 8: 6 iterations per epoch. */
const tiny = (extra: ConfigInput = {}): ConfigInput => ({
  network: "small-dcgan",
  diagnostics: false,
  batchSize: 8,
  limit: 48,
  maxEpoch: 2,
  seed: 3,
  sampleColumns: 2,
  ...extra,
});

function record(trainer: Trainer): TrainerEvent[] {
  const events: TrainerEvent[] = [];
  trainer.on((e) => events.push(e));
  return events;
}

const lossesOf = (events: TrainerEvent[]) => events.flatMap((e) => (e.type === "losses" ? [e] : []));

describe("a run from start to end", () => {
  it("emits per-iteration losses, a sample grid and a checkpoint per epoch, and statuses with the backend", async () => {
    const out = path.join(tmp, "full");
    const trainer = await Trainer.create({ config: tiny(), outDir: out });
    const events = record(trainer);
    expect(await trainer.start()).toBe("completed");
    const losses = lossesOf(events);
    expect(losses.map((e) => e.iteration)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(losses.map((e) => e.epoch)).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    for (const e of losses) for (const v of Object.values(e.losses)) expect(Number.isFinite(v) && v > 0).toBe(true);
    const grids = events.flatMap((e) => (e.type === "sampleGrid" ? [e] : []));
    expect(grids.map((g) => [g.epoch, g.iteration, g.rows, g.cols])).toEqual([
      [1, 6, 10, 2],
      [2, 12, 10, 2],
    ]);
    expect(Buffer.from(grids[0]!.png.subarray(0, 8)).toString("hex")).toBe("89504e470d0a1a0a");
    const ckpts = events.flatMap((e) => (e.type === "checkpoint" ? [e] : []));
    expect(ckpts.map((c) => [c.epoch, c.iteration, c.kind])).toEqual([
      [1, 6, "latest"],
      [2, 12, "latest"],
    ]);
    const statuses = events.flatMap((e) => (e.type === "status" ? [[e.status, e.backend]] : []));
    expect(statuses).toEqual([
      ["running", "wasm"],
      ["completed", "wasm"],
    ]);
    trainer.dispose();
  });

  it("writes checkpoints in the background: each event comes with its files on disk, and the run ends after the last", async () => {
    const out = path.join(tmp, "background");
    const trainer = await Trainer.create({ config: tiny({ maxEpoch: 3 }), outDir: out });
    const seen: number[] = [];
    trainer.on((e) => {
      // At its event, latest/ is the checkpoint the event names (read synchronously, before the next write starts).
      if (e.type === "checkpoint")
        seen.push(ModelJsonSchema.parse(JSON.parse(readFileSync(path.join(e.dir, "model.json"), "utf8"))).userDefinedMetadata.iteration);
    });
    expect(await trainer.start()).toBe("completed");
    expect(seen).toEqual([6, 12, 18]);
    expect((await readCheckpoint(path.join(out, "latest"))).meta.iteration).toBe(18);
    trainer.dispose();
  });

  it("a checkpoint that cannot be written fails the run with the folder named, and the loop stops", async () => {
    const blocked = path.join(tmp, "not-a-folder");
    writeFileSync(blocked, "a file where the run's folder should be");
    const trainer = await Trainer.create({ config: tiny({ maxEpoch: 4 }), outDir: blocked });
    const events = record(trainer);
    expect(await trainer.start()).toBe("failed");
    const status = events.flatMap((e) => (e.type === "status" && e.status === "failed" ? [e] : []))[0]!;
    expect(status.reason).toMatch(/could not write the latest checkpoint to .*not-a-folder/);
    // The first epoch's write failed in the background; the loop stopped at the next iteration, not at MaxEpoch.
    expect(lossesOf(events).length).toBeLessThan(24);
    trainer.dispose();
  });

  it("keeps the same number of live tensors across 50 iterations (no leaks)", async () => {
    const trainer = await Trainer.create({ config: tiny({ maxEpoch: 9 }) }); // 54 iterations, grids every 6
    const counts = new Map<number, number>();
    trainer.on((e) => {
      if (e.type === "losses") counts.set(e.iteration, tf.memory().numTensors);
    });
    await trainer.start();
    expect(counts.size).toBe(54);
    // Iteration 5 ends epoch 1 after its first grid (which makes the label planes once); from then on, flat.
    expect(counts.get(53)).toBe(counts.get(5));
    trainer.dispose();
  });
});

describe("steering a run", () => {
  it("pauses, takes changes while paused at the iteration it stopped at, resumes and stops", async () => {
    const trainer = await Trainer.create({ config: tiny({ maxEpoch: 50 }) });
    const events = record(trainer);
    let pausedAt = -1;
    const paused = new Promise<void>((resolve) =>
      trainer.on((e) => {
        if (e.type === "losses" && e.iteration === 2) trainer.pause();
        if (e.type === "status" && e.status === "paused") {
          pausedAt = e.iteration;
          resolve();
        }
      }),
    );
    const done = trainer.start();
    await paused;
    expect(pausedAt).toBe(3);
    expect(trainer.status).toBe("paused");
    const w0 = (await trainer.model.store.variable("Affine", "W").data()).slice();
    trainer.setLrMultiplier("Affine", "W", 0);
    trainer.setOptimizer("Generator", { alpha: 0.0002 });
    await new Promise((r) => setTimeout(r, 50));
    // Nothing trains while paused, but the changes are in, reported at the next iteration to run.
    expect(lossesOf(events).length).toBe(3);
    const controls = events.flatMap((e) => (e.type === "control" ? [e] : []));
    expect(controls).toEqual([
      { type: "control", iteration: 3, change: { kind: "lrMultiplier", scope: "Affine", param: "W", from: 1, to: 0 } },
      {
        type: "control",
        iteration: 3,
        change: {
          kind: "optimizer",
          network: "Generator",
          from: { type: "Adam", alpha: 0.0005, beta1: 0.5, beta2: 0.999, eps: 1e-8 },
          to: { type: "Adam", alpha: 0.0002, beta1: 0.5, beta2: 0.999, eps: 1e-8 },
        },
      },
    ]);
    const resumedTo = new Promise<void>((resolve) =>
      trainer.on((e) => {
        if (e.type === "losses" && e.iteration === 6) {
          trainer.stop();
          resolve();
        }
      }),
    );
    trainer.resume();
    await resumedTo;
    expect(await done).toBe("stopped");
    // LRateMultiplier 0 froze Affine/W through iterations 3..6; the other generator weights moved.
    expect(await trainer.model.store.variable("Affine", "W").data()).toEqual(w0);
    expect(trainer.model.solvers.Generator.settings.alpha).toBe(0.0002);
    const statuses = events.flatMap((e) => (e.type === "status" ? [`${e.status}@${e.iteration}`] : []));
    expect(statuses).toEqual(["running@0", "paused@3", "running@3", "stopped@7"]);
    trainer.dispose();
  });

  it("rejects unknown scopes, parameters, networks and bad values at once, changing nothing", async () => {
    const trainer = await Trainer.create({ config: tiny() });
    expect(() => trainer.setLrMultiplier("Nope", "W", 0)).toThrow(/unknown parameter Nope\/W; the ParameterScopes are Affine, BatchNormalization/);
    expect(() => trainer.setLrMultiplier("BatchNormalization", "mean", 0)).toThrow(/unknown parameter BatchNormalization\/mean/);
    expect(() => trainer.setLrMultiplier("Affine", "W", -1)).toThrow(/LRateMultiplier must be a number from 0 to 100 \(0 freezes the parameter\), got -1/);
    expect(() => trainer.setLrMultiplier("Affine", "W", 101)).toThrow(/from 0 to 100 .*got 101/);
    expect(() => trainer.setOptimizer("Critic" as "Generator", { alpha: 1 })).toThrow(/unknown training network "Critic"/);
    expect(() => trainer.setOptimizer("Generator", { alpha: -1 })).toThrow(/invalid optimizer for Generator: alpha/);
    // α per solver, as in the Config: the Generator's Adam takes at most 1.
    expect(() => trainer.setOptimizer("Generator", { alpha: 2 })).toThrow("invalid optimizer for Generator: alpha: Adam's α is at most 1, got 2");
    expect(trainer.model.store.get("Affine", "W").lrMultiplier).toBe(1);
    expect(trainer.model.solvers.Generator.settings.alpha).toBe(0.0005);
    trainer.dispose();
  });

  it("takes α up to its network's solver's ALPHA_MAX: 5 for Sgd, 10 for Momentum, not 10.5", async () => {
    const trainer = await Trainer.create({ config: tiny({ optimizers: { DiscriminatorReal: { type: "Sgd" }, DiscriminatorFake: { type: "Momentum" } } }) });
    const events = record(trainer);
    trainer.setOptimizer("DiscriminatorReal", { alpha: 5 });
    trainer.setOptimizer("DiscriminatorFake", { alpha: 10 });
    expect(() => trainer.setOptimizer("DiscriminatorFake", { alpha: 10.5 })).toThrow(/Momentum's α is at most 10, got 10.5/);
    // A change of solver is checked against the new one: Adam at 5 is refused.
    expect(() => trainer.setOptimizer("DiscriminatorReal", { type: "Adam", alpha: 5 })).toThrow(/Adam's α is at most 1, got 5/);
    trainer.setLrMultiplier("Affine", "W", 100);
    trainer.stop();
    expect(await trainer.start()).toBe("stopped");
    expect(trainer.model.solvers.DiscriminatorReal.settings).toEqual({ type: "Sgd", alpha: 5 });
    expect(trainer.model.solvers.DiscriminatorFake.settings).toMatchObject({ type: "Momentum", alpha: 10 });
    expect(trainer.model.store.get("Affine", "W").lrMultiplier).toBe(100);
    expect(events.filter((e) => e.type === "control")).toHaveLength(3);
    trainer.dispose();
  });

  it("a listener that throws does not stop training; the error is reported", async () => {
    const trainer = await Trainer.create({ config: tiny({ maxEpoch: 1 }) });
    const events = record(trainer);
    trainer.on((e) => {
      if (e.type === "losses" && e.iteration === 1) throw new Error("viewer went away");
    });
    expect(await trainer.start()).toBe("completed");
    expect(events.filter((e) => e.type === "error").map((e) => (e as { message: string }).message)).toEqual(["event listener failed: viewer went away"]);
    // The loop has ended: a change now would never apply, so it is refused rather than queued.
    expect(() => trainer.setLrMultiplier("Affine", "W", 0)).toThrow(/completed: changes are no longer taken/);
    expect(() => trainer.setOptimizer("Generator", { alpha: 0.001 })).toThrow(/completed/);
    trainer.dispose();
  });
});

describe("checkpoints", () => {
  it("resuming from epoch 1's checkpoint gives the same losses as the uninterrupted run", async () => {
    const out = path.join(tmp, "resume");
    const saved = path.join(tmp, "resume-epoch-1");
    const a = await Trainer.create({ config: tiny({ optimizers: { DiscriminatorReal: { type: "Momentum" } } }), outDir: out });
    const eventsA = record(a);
    a.on((e) => {
      if (e.type === "checkpoint" && e.epoch === 1) cpSync(e.dir, saved, { recursive: true });
    });
    await a.start();
    a.dispose();

    const b = await Trainer.create({ resumeFrom: saved });
    expect(b.iteration).toBe(6);
    const eventsB = record(b);
    expect(await b.start()).toBe("completed");
    const after = lossesOf(eventsB);
    const reference = lossesOf(eventsA).slice(6);
    expect(after.map((e) => e.iteration)).toEqual([6, 7, 8, 9, 10, 11]);
    for (let k = 0; k < after.length; k++) {
      for (const name of ["GReal", "Fake", "Real"] as const) {
        expect(after[k]!.losses[name]).toBeCloseTo(reference[k]!.losses[name], 5);
      }
    }
    b.dispose();
  });

  it("keep the collapse detector's streaks, so a resumed run continues them", async () => {
    const model = new GanModel(SMALL_DCGAN, 1, parseConfig({}).optimizers);
    const dir = path.join(tmp, "with-collapse");
    const collapse = [{ rule: "dFake", epochs: [3, 4], values: [0.01, 0.02], raised: false }];
    await writeCheckpoint(dir, {
      model,
      config: parseConfig({}),
      iteration: 10,
      iterationsPerEpoch: 5,
      dataset: { ref: "mnist-bundled", trainCount: 40, numLabels: 10 },
      backend: "wasm",
      monitor: null,
      collapse,
    });
    expect((await readCheckpoint(dir)).meta.collapse).toEqual(collapse);
    model.dispose();
  });

  it("are in tf.io's weights layout: a browser can decode weights.bin with the manifest alone", async () => {
    const dir = path.join(tmp, "full", "latest");
    const modelJson = ModelJsonSchema.parse(JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")));
    const group = modelJson.weightsManifest[0]!;
    expect(group.paths).toEqual(["weights.bin"]);
    const bytes = readFileSync(path.join(dir, "weights.bin"));
    const tensors = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), group.weights);
    expect(Object.keys(tensors)).toContain("Deconvolution_2/W");
    expect(tensors["Deconvolution_2/W"]!.shape).toEqual([4, 4, 1, 64]);
    expect(modelJson.userDefinedMetadata.runtimeGenerator.scopes).toEqual([
      "Affine",
      "BatchNormalization",
      "Deconvolution",
      "BatchNormalization_2",
      "Deconvolution_2",
    ]);
    expect(modelJson.userDefinedMetadata.iteration).toBe(12);
    expect(modelJson.userDefinedMetadata.config.batchSize).toBe(8);
    tf.dispose(Object.values(tensors));
  });

  it("the RuntimeGenerator of a checkpoint draws what the live weights drew", async () => {
    const trainer = await Trainer.create({ config: tiny({ maxEpoch: 1 }), outDir: path.join(tmp, "gen") });
    await trainer.start();
    const live = await RuntimeGenerator.live(trainer.model).generate({ label: 7, seed: 42, count: 3 });
    const loaded = await RuntimeGenerator.fromCheckpoint(path.join(tmp, "gen", "latest"));
    const fromDisk = await loaded.generate({ label: 7, seed: 42, count: 3 });
    for (let i = 0; i < 3; i++) {
      const a = live.images[i]!;
      const b = fromDisk.images[i]!;
      expect(Math.max(...a.map((v, j) => Math.abs(v - b[j]!)))).toBeLessThan(1e-6);
    }
    expect(live.labels).toEqual([7, 7, 7]);
    loaded.dispose();
    trainer.dispose();
  });

  it("Save Best keeps a best/ checkpoint with its monitor; off (the default) keeps latest/ only", async () => {
    const out = path.join(tmp, "best");
    const trainer = await Trainer.create({ config: tiny({ saveBest: true, validationFraction: 0.2 }), outDir: out });
    const events = record(trainer);
    await trainer.start();
    const best = events.flatMap((e) => (e.type === "checkpoint" && e.kind === "best" ? [e] : []));
    expect(best.length).toBeGreaterThanOrEqual(1);
    const meta = (await readCheckpoint(path.join(out, "best"), { weightsOnly: true })).meta;
    const monitors = events.flatMap((e) => (e.type === "epoch" ? [e.monitor!] : []));
    expect(meta.monitor).toBe(Math.min(...monitors));
    expect(existsSync(path.join(tmp, "full", "best"))).toBe(false);
    trainer.dispose();
  });

  it("a damaged checkpoint is refused with the file named", async () => {
    const dir = path.join(tmp, "damaged");
    cpSync(path.join(tmp, "full", "latest"), dir, { recursive: true });
    rmSync(path.join(dir, "optimizer.bin"));
    await expect(Trainer.create({ resumeFrom: dir })).rejects.toThrow(/optimizer\.bin is missing/);
    await expect(Trainer.create({ resumeFrom: path.join(tmp, "nowhere") })).rejects.toThrow(/no checkpoint at .*nowhere/);
  });
});

describe("diagnostics", () => {
  it("measures every epoch and streams the report as an event (the evaluator trained once, then cached)", async () => {
    const trainer = await Trainer.create({ config: tiny({ diagnostics: true, maxEpoch: 1 }), evaluatorCacheDir: path.join(tmp, "evaluators") });
    const events = record(trainer);
    await trainer.start();
    const reports = events.flatMap((e) => (e.type === "diagnostics" ? [e] : []));
    expect(reports.map((r) => [r.epoch, r.iteration])).toEqual([[1, 6]]);
    const m = reports[0]!.metrics;
    expect(m.classifierAccuracy).toBeGreaterThan(0.9);
    expect(m.count).toBe(500);
    for (const v of [m.labelAccuracy, m.frechetDistance, m.precision, m.recall, m.diversity, m.dRealMean, m.dFakeMean]) expect(Number.isFinite(v)).toBe(true);
    expect(reports[0]!.gradNorms.map((g) => g.scope)).toContain("Deconvolution_2");
    // The grid comes before the report, both at the epoch's end.
    const order = events.filter((e) => e.type === "sampleGrid" || e.type === "diagnostics").map((e) => e.type);
    expect(order).toEqual(["sampleGrid", "diagnostics"]);
    trainer.dispose();
  });
});

describe("a data set of another shape", () => {
  it("trains NNC's sample adapted to 16×16 RGB images with 3 labels, and its grid has one row per label", async () => {
    // Each label a colour: red, green, blue squares with a little noise, 12 of each.
    const count = 36;
    const size = 16 * 16 * 3;
    const images = new Float32Array(count * size);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      labels[i] = i % 3;
      for (let p = 0; p < 16 * 16; p++) images[i * size + p * 3 + labels[i]!] = 0.5 + ((i * 31 + p * 7) % 50) / 100;
    }
    const dataset = { name: "colours", height: 16, width: 16, channels: 3 as const, numLabels: 3, count, images, labels };
    const out = path.join(tmp, "colours");
    const trainer = await Trainer.create({
      config: { dataset: "colours", diagnostics: false, batchSize: 8, maxEpoch: 1, seed: 5, sampleColumns: 2 },
      dataset,
      outDir: out,
    });
    const events = record(trainer);
    expect(await trainer.start()).toBe("completed");
    const losses = lossesOf(events);
    expect(losses.length).toBe(trainer.iterationsPerEpoch);
    for (const l of losses) expect(Number.isFinite(l.losses.GReal)).toBe(true);
    const grid = await trainer.sampleGrid();
    expect(grid.rows).toBe(3);
    const ckpt = await readCheckpoint(path.join(out, "latest"));
    expect(ckpt.meta.spec.image).toEqual({ height: 16, width: 16, channels: 3 });
    expect(ckpt.meta.spec.numLabels).toBe(3);
  });
});
