/**
 * Checkpoints in TensorFlow.js's weights layout, so a browser can load the RuntimeGenerator with tf.io:
 *
 *   DIR/model.json     { format: "gan-studio-checkpoint", formatVersion, weightsManifest, userDefinedMetadata }
 *   DIR/weights.bin    every parameter ("Affine/W", "BatchNormalization/mean", …), float32, little-endian
 *   DIR/optimizer.bin  solver state ("Generator/Affine/W/m", …): only needed to resume training
 *
 * `weightsManifest[0]` lists weights.bin's tensors in order (tf.io.WeightsManifestConfig); a browser passes just
 * that group to `tf.io.loadWeights` and runs the generator part of `userDefinedMetadata.spec`.
 * `userDefinedMetadata` holds what is needed to continue the same run: the config it ran with, the resolved spec,
 * the iteration, each solver's settings and step count, and every LRateMultiplier.
 * A checkpoint is written to a temporary folder and renamed into place, so a crash never leaves half of one.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import type { z } from "zod";
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, type CheckpointMeta, type ManifestGroup, ModelJsonSchema } from "./checkpoint-format";
import type { Config } from "./config";
import type { GanModel } from "./model";
import { TRAINING_NETWORKS, type TrainingNetworkName } from "./spec";
import { packWeights, unpackWeights, weightsByteLength, type NamedTensor } from "./weights-file";

export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, type CheckpointMeta, CheckpointMetaSchema, ModelJsonSchema } from "./checkpoint-format";

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

function unpack(group: z.infer<typeof ManifestGroup>, bytes: Buffer, file: string): Map<string, { shape: number[]; values: Float32Array }> {
  const out = unpackWeights(group.weights, bytes);
  if (!out) throw new CheckpointError(`${file} has ${bytes.length} bytes, model.json describes ${weightsByteLength(group.weights)}`);
  return out;
}

export interface CheckpointInput {
  model: GanModel;
  config: Config;
  iteration: number;
  iterationsPerEpoch: number;
  dataset: CheckpointMeta["dataset"];
  backend: string;
  monitor: number | null;
  collapse?: CheckpointMeta["collapse"];
}

/** A checkpoint read out of the model, in memory, ready to be written (see {@link captureCheckpoint}). */
export interface CapturedCheckpoint {
  weights: Uint8Array;
  /** Solver state; null for a weights-only snapshot. */
  optimizer: Uint8Array | null;
  modelJson: string;
  iteration: number;
  /** Bytes the files' tensors take (weights.bin + optimizer.bin). */
  bytes: number;
}

/**
 * Reads everything a checkpoint holds out of the model now (call between iterations): the parameters, the solver
 * state and the metadata, packed into memory. Writing it ({@link writeCapturedCheckpoint}) needs nothing of the
 * model any more, so the trainer can write while it trains on.
 */
export async function captureCheckpoint(input: CheckpointInput, opts: { weightsOnly?: boolean } = {}): Promise<CapturedCheckpoint> {
  const { model } = input;
  const params = await model.store.read();
  const weights: NamedTensor[] = [...model.store.params.values()].map((p) => ({ name: p.key, shape: p.def.shape, values: params.get(p.key)! }));
  const state: NamedTensor[] = [];
  const solvers = {} as CheckpointMeta["solvers"];
  for (const net of TRAINING_NETWORKS) {
    const solver = model.solvers[net];
    solvers[net] = { settings: solver.settings, step: solver.step };
    if (opts.weightsOnly) continue;
    for (const [name, s] of await solver.read()) state.push({ name: `${net}/${name}`, ...s });
  }
  const w = packWeights(weights);
  const o = opts.weightsOnly ? null : packWeights(state);
  const meta: CheckpointMeta = {
    config: input.config,
    spec: model.resolved.spec,
    iteration: input.iteration,
    epoch: input.iteration / input.iterationsPerEpoch,
    iterationsPerEpoch: input.iterationsPerEpoch,
    dataset: input.dataset,
    lrMultipliers: model.store.lrMultipliers(),
    solvers,
    backend: input.backend,
    createdAt: new Date().toISOString(),
    runtimeGenerator: { scopes: model.resolved.scopes.filter((s) => s.part === "generator").map((s) => s.scope) },
    monitor: input.monitor,
    ...(input.collapse ? { collapse: input.collapse } : {}),
  };
  const modelJson = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_VERSION,
    generatedBy: "GAN Studio",
    weightsManifest: [{ paths: ["weights.bin"], weights: w.weights }, ...(o ? [{ paths: ["optimizer.bin"], weights: o.weights }] : [])],
    userDefinedMetadata: meta,
  };
  return {
    weights: w.bytes,
    optimizer: o?.bytes ?? null,
    modelJson: JSON.stringify(modelJson, null, 1),
    iteration: input.iteration,
    bytes: w.bytes.length + (o?.bytes.length ?? 0),
  };
}

/**
 * Writes a captured checkpoint into `dir` (replacing one there) and returns its size in bytes: into a temporary
 * folder first, renamed into place, so a crash never leaves half of one. Two writes to the same `dir` must not
 * overlap (the Trainer queues its own).
 */
export async function writeCapturedCheckpoint(dir: string, c: CapturedCheckpoint): Promise<number> {
  const target = path.resolve(dir);
  const unique = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = `${target}.tmp-${unique}`;
  await fs.mkdir(tmp, { recursive: true });
  await fs.writeFile(path.join(tmp, "weights.bin"), c.weights);
  if (c.optimizer) await fs.writeFile(path.join(tmp, "optimizer.bin"), c.optimizer);
  await fs.writeFile(path.join(tmp, "model.json"), c.modelJson);
  const old = `${target}.old-${unique}`;
  const hadOld = await fs.rename(target, old).then(
    () => true,
    () => false,
  );
  await fs.rename(tmp, target);
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
  return c.bytes;
}

/**
 * Writes a checkpoint into `dir` (replacing one there) and returns its size in bytes. `weightsOnly` leaves out
 * optimizer.bin: enough for the RuntimeGenerator (a snapshot), not to resume training.
 */
export async function writeCheckpoint(dir: string, input: CheckpointInput, opts: { weightsOnly?: boolean } = {}): Promise<number> {
  return writeCapturedCheckpoint(dir, await captureCheckpoint(input, opts));
}

export interface LoadedCheckpoint {
  dir: string;
  meta: CheckpointMeta;
  weights: Map<string, Float32Array>;
  /** Solver state per network: `${paramKey}/${slot}` → values. Empty when `weightsOnly`. */
  solverState: Record<TrainingNetworkName, Map<string, { shape: number[]; values: Float32Array }>>;
}

/**
 * The checkpoint folder a user means: `dir` itself when it holds a checkpoint (model.json), or, for a run folder
 * (what `npm run train --out` writes, and a run's folder under the server's DATA_DIR), its `latest/` checkpoint.
 * Throws a CheckpointError naming both places when neither holds one.
 */
export async function resolveCheckpointDir(dir: string): Promise<{ dir: string; run: boolean }> {
  const has = (d: string) =>
    fs.stat(path.join(d, "model.json")).then(
      (s) => s.isFile(),
      () => false,
    );
  if (await has(dir)) return { dir, run: false };
  const latest = path.join(dir, "latest");
  if (await has(latest)) return { dir: latest, run: true };
  throw new CheckpointError(
    `no checkpoint at ${dir}: it holds neither model.json (a checkpoint folder) nor latest/model.json (a run folder, as npm run train --out writes)`,
  );
}

/** Reads a checkpoint; `weightsOnly` skips optimizer.bin (enough for the RuntimeGenerator). */
export async function readCheckpoint(dir: string, opts: { weightsOnly?: boolean } = {}): Promise<LoadedCheckpoint> {
  const file = path.join(dir, "model.json");
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch {
    throw new CheckpointError(`no checkpoint at ${dir}: ${file} is missing`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new CheckpointError(`${file} is not JSON: ${(e as Error).message}`);
  }
  const parsed = ModelJsonSchema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new CheckpointError(`${file} is not a GAN Studio checkpoint (${i.path.join(".")}: ${i.message})`);
  }
  const mj = parsed.data;
  const read = async (group: z.infer<typeof ManifestGroup>) => {
    const f = path.join(dir, group.paths[0]!);
    const bytes = await fs.readFile(f).catch(() => {
      throw new CheckpointError(`checkpoint file ${f} is missing`);
    });
    return unpack(group, bytes, f);
  };
  const weights = new Map<string, Float32Array>();
  for (const [name, t] of await read(mj.weightsManifest[0]!)) weights.set(name, t.values);
  const solverState = { Generator: new Map(), DiscriminatorFake: new Map(), DiscriminatorReal: new Map() } as LoadedCheckpoint["solverState"];
  const og = mj.weightsManifest[1];
  if (og && !opts.weightsOnly) {
    for (const [name, t] of await read(og)) {
      const cut = name.indexOf("/");
      const net = name.slice(0, cut) as TrainingNetworkName;
      if (!solverState[net]) throw new CheckpointError(`optimizer.bin names an unknown network in ${name}`);
      solverState[net].set(name.slice(cut + 1), t);
    }
  }
  return { dir, meta: mj.userDefinedMetadata, weights, solverState };
}

/** Restores parameters, LRateMultipliers and (unless weights only) solver state into a model built from the same spec. */
export function restoreModel(model: GanModel, ckpt: LoadedCheckpoint): void {
  model.store.write(ckpt.weights);
  for (const [scope, params] of Object.entries(ckpt.meta.lrMultipliers)) {
    for (const [name, value] of Object.entries(params)) model.store.setLrMultiplier(scope, name, value);
  }
  for (const net of TRAINING_NETWORKS) {
    const s = ckpt.meta.solvers[net];
    if (!s) continue;
    model.solvers[net].configure(s.settings);
    model.solvers[net].write(s.step, ckpt.solverState[net]);
  }
}
