/**
 * The trainer: a loop you can steer while it runs. `start` trains until MaxEpoch, `pause`/`resume`/`stop` and
 * the setters may be called at any time; every change takes effect at the next iteration and is reported as a
 * `control` event carrying the iteration it took effect at.
 *
 * Iterations are numbered from 0. An iteration's batch and noise derive from (seed, epoch, iteration), so a run
 * resumed from a checkpoint written after iteration k − 1 trains iteration k exactly as an uninterrupted run.
 */
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { activeBackend, initBackend, type BackendInfo } from "./backend";
import { captureCheckpoint, readCheckpoint, restoreModel, writeCapturedCheckpoint, type CapturedCheckpoint } from "./checkpoint";
import { OptimizerSchema, SPLIT_SEED, parseConfig, type Config, type ConfigInput, type Optimizer } from "./config";
import { epochOrder, gatherBatch, iterationsPerEpoch, splitDataset, subsetDataset, validateDataset, type Batch, type ImageDataset } from "./data/dataset";
import { loadDataset } from "./data/index";
import type { CollapseDetectorState } from "./diagnostics/collapse";
import { Diagnostics, type DiagnosticsReport } from "./diagnostics/index";
import { encodePng, tileGrid } from "./image";
import { GanModel, type Losses } from "./model";
import { Stream } from "./rng";
import { TRAINING_NETWORKS, checkSpecFitsData, specForConfig, type NetworkSpecInput, type TrainingNetworkName } from "./spec";
import { ENDED_STATUSES, type TrainerStatus } from "./vocabulary";

export { TRAINER_STATUSES, type TrainerStatus } from "./vocabulary";
/** True once the loop has ended (completed, stopped or failed): no change is taken any more. */
export const trainerEnded = (status: TrainerStatus): boolean => (ENDED_STATUSES as readonly string[]).includes(status);

export type ControlChange =
  | { kind: "lrMultiplier"; scope: string; param: string; from: number; to: number }
  | { kind: "optimizer"; network: TrainingNetworkName; from: Optimizer; to: Optimizer };

export type TrainerEvent =
  | { type: "status"; status: TrainerStatus; iteration: number; epoch: number; backend: string; reason?: string }
  | { type: "losses"; iteration: number; epoch: number; losses: Losses; msPerIter: number }
  | { type: "epoch"; epoch: number; iteration: number; seconds: number; imagesPerSec: number; monitor: number | null }
  | { type: "sampleGrid"; epoch: number; iteration: number; png: Uint8Array; rows: number; cols: number; labels: number[] }
  | { type: "checkpoint"; epoch: number; iteration: number; dir: string; kind: "latest" | "best"; bytes: number }
  | { type: "control"; iteration: number; change: ControlChange }
  | ({ type: "diagnostics" } & DiagnosticsReport)
  | { type: "error"; iteration: number; message: string };

export type TrainerListener = (event: TrainerEvent) => void;

export interface TrainerOptions {
  /** The Config (defaults filled in); ignored when resuming, which keeps the checkpoint's. */
  config?: ConfigInput;
  /** The data set, when the caller loaded it; otherwise loaded from `config.dataset`. */
  dataset?: ImageDataset;
  /** Where checkpoints go (`latest/`, `best/`); none are written without it. */
  outDir?: string;
  /** Continue the run saved in this checkpoint folder. */
  resumeFrom?: string;
  /** Backend to use (else GAN_BACKEND, else the fastest that works). */
  backend?: string;
  /** Where the diagnostics evaluator is cached (default data/evaluators; null: never cached). */
  evaluatorCacheDir?: string | null;
}

/** Validation batches used for the Save Best monitor (fixed noise, at most this many). */
const MONITOR_BATCHES = 4;

export class Trainer {
  status: TrainerStatus = "idle";
  /** Iterations completed = index of the next iteration. */
  iteration: number;
  readonly iterationsPerEpoch: number;
  readonly totalIterations: number;
  private readonly listeners = new Set<TrainerListener>();
  private readonly pending: (() => ControlChange | null)[] = [];
  private wake: (() => void) | null = null;
  private stopRequested = false;
  private pauseRequested = false;
  private bestMonitor = Number.POSITIVE_INFINITY;
  private running: Promise<TrainerStatus> | null = null;
  /** Checkpoint files being written, one after the other, while training goes on (see writeCheckpoints). */
  private writes: Promise<void> = Promise.resolve();
  /** The first background write that failed: the loop fails with it at its next iteration. */
  private writeError: Error | null = null;

  private constructor(
    readonly config: Config,
    readonly model: GanModel,
    readonly train: ImageDataset,
    readonly validation: ImageDataset,
    readonly backend: BackendInfo,
    readonly outDir: string | undefined,
    iteration: number,
    /** Per-epoch quality and collapse measurements; null when the Config turns them off. */
    readonly diagnostics: Diagnostics | null,
  ) {
    this.iteration = iteration;
    this.iterationsPerEpoch = iterationsPerEpoch(train.count, config.batchSize);
    this.totalIterations = this.iterationsPerEpoch * config.maxEpoch;
  }

  /** Builds a trainer: backend, data (split with the seed), model; or everything from a checkpoint. */
  static async create(opts: TrainerOptions): Promise<Trainer> {
    const backend = activeBackend() ?? (await initBackend(opts.backend));
    const ckpt = opts.resumeFrom ? await readCheckpoint(opts.resumeFrom) : null;
    const config = ckpt ? ckpt.meta.config : parseConfig(opts.config ?? {});
    const full = opts.dataset ?? loadDataset(config.dataset);
    validateDataset(full, { minPerLabel: 2 });
    const split = splitDataset(full, { validationFraction: config.validationFraction, seed: SPLIT_SEED });
    const train = config.limit > 0 ? subsetDataset(split.train, config.limit) : split.train;
    // A built-in spec adapts to the data set's image size, channels and labels; a spec given whole must fit as it is.
    const spec: NetworkSpecInput = ckpt ? ckpt.meta.spec : specForConfig(config, full);
    const model = new GanModel(spec, config.seed, config.optimizers);
    try {
      checkSpecFitsData(model.resolved.spec, full);
      if (ckpt) {
        if (ckpt.meta.dataset.trainCount !== train.count) {
          throw new Error(`checkpoint was trained on ${ckpt.meta.dataset.trainCount} images of "${ckpt.meta.dataset.ref}", this data set gives ${train.count}`);
        }
        restoreModel(model, ckpt);
      } else {
        for (const [scope, params] of Object.entries(config.lrMultipliers)) {
          for (const [name, value] of Object.entries(params)) model.store.setLrMultiplier(scope, name, value);
        }
      }
      const diagnostics = config.diagnostics
        ? await Diagnostics.create({
            dataset: full,
            seed: SPLIT_SEED,
            validationFraction: config.validationFraction,
            ...(opts.evaluatorCacheDir !== undefined ? { cacheDir: opts.evaluatorCacheDir } : {}),
          })
        : null;
      const t = new Trainer(config, model, train, split.validation, backend, opts.outDir, ckpt?.meta.iteration ?? 0, diagnostics);
      if (ckpt && ckpt.meta.monitor !== null) t.bestMonitor = ckpt.meta.monitor;
      if (ckpt?.meta.collapse && diagnostics) diagnostics.detector.restore(ckpt.meta.collapse as CollapseDetectorState);
      return t;
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  get epoch(): number {
    return Math.floor(this.iteration / this.iterationsPerEpoch);
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: TrainerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: TrainerEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (e) {
        // A listener's failure must not stop training; it is reported once as an error event to the others.
        if (event.type !== "error") this.emit({ type: "error", iteration: this.iteration, message: `event listener failed: ${(e as Error).message}` });
      }
    }
  }

  private setStatus(status: TrainerStatus, reason?: string): void {
    this.status = status;
    this.emit({ type: "status", status, iteration: this.iteration, epoch: this.epoch, backend: this.backend.name, ...(reason ? { reason } : {}) });
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Trains until MaxEpoch, a stop or an error; resolves with the final status. Calling it twice returns the same run. */
  start(): Promise<TrainerStatus> {
    this.running ??= this.loop();
    return this.running;
  }

  pause(): void {
    this.pauseRequested = true;
    this.signal();
  }

  resume(): void {
    this.pauseRequested = false;
    this.signal();
  }

  stop(): void {
    this.stopRequested = true;
    this.signal();
  }

  /** Queues an LRateMultiplier change (0 freezes the parameter); throws at once for an unknown scope or parameter. */
  setLrMultiplier(scope: string, param: string, value: number): void {
    this.assertOpen();
    this.model.store.checkLrMultiplier(scope, param, value); // throws now, never later inside the loop
    this.pending.push(() => {
      const from = this.model.store.setLrMultiplier(scope, param, value);
      return from === value ? null : { kind: "lrMultiplier", scope, param, from, to: value };
    });
    this.signal();
  }

  /** Queues a change of a training network's solver settings (e.g. { alpha: 0.0002 }); a new type resets its state. */
  setOptimizer(network: TrainingNetworkName, settings: Partial<Optimizer>): void {
    this.assertOpen();
    if (!TRAINING_NETWORKS.includes(network)) throw new RangeError(`unknown training network "${network}": ${TRAINING_NETWORKS.join(", ")}`);
    const current = this.model.solvers[network].settings;
    const merged = { ...(settings.type && settings.type !== current.type ? {} : current), ...settings };
    const parsed = OptimizerSchema.safeParse(merged);
    if (!parsed.success)
      throw new RangeError(`invalid optimizer for ${network}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    this.pending.push(() => {
      const from = this.model.solvers[network].settings;
      this.model.solvers[network].configure(parsed.data);
      return { kind: "optimizer", network, from, to: parsed.data };
    });
    this.signal();
  }

  /** A change queued after the loop ended would never apply: refuse it instead of accepting it silently. */
  private assertOpen(): void {
    if (trainerEnded(this.status)) {
      throw new Error(
        `the run has ${this.status === "failed" ? "failed" : this.status === "stopped" ? "been stopped" : "completed"}: changes are no longer taken`,
      );
    }
  }

  private applyPending(): void {
    while (this.pending.length) {
      const change = this.pending.shift()!();
      if (change) this.emit({ type: "control", iteration: this.iteration, change });
    }
  }

  private async loop(): Promise<TrainerStatus> {
    this.setStatus("running");
    let order: Int32Array | null = null;
    let orderEpoch = -1;
    const size = this.train.height * this.train.width * this.train.channels;
    const batch: Batch = { images: new Float32Array(this.config.batchSize * size), labels: new Int32Array(this.config.batchSize) };
    let epochStart = performance.now();
    let epochImages = 0;
    try {
      while (this.iteration < this.totalIterations) {
        // Let commands (and the process's messages) in between iterations.
        await new Promise((r) => setImmediate(r));
        if (this.writeError) throw this.writeError;
        this.applyPending();
        if (this.stopRequested) break;
        if (this.pauseRequested) {
          this.setStatus("paused");
          while (this.pauseRequested && !this.stopRequested) {
            await new Promise<void>((r) => (this.wake = r));
            this.applyPending();
          }
          if (this.stopRequested) break;
          this.setStatus("running");
          epochStart = performance.now();
          epochImages = 0;
        }
        const epoch = this.epoch;
        if (orderEpoch !== epoch) {
          order = epochOrder(this.train.count, this.config.seed, epoch);
          orderEpoch = epoch;
        }
        const j = this.iteration % this.iterationsPerEpoch;
        gatherBatch(this.train, order!, j * this.config.batchSize, this.config.batchSize, batch);
        const t0 = performance.now();
        const losses = await this.model.trainStep(batch, this.iteration);
        const ms = performance.now() - t0;
        const index = this.iteration;
        this.iteration++;
        epochImages += this.config.batchSize;
        this.emit({ type: "losses", iteration: index, epoch: epoch + 1, losses, msPerIter: ms });
        if (!Number.isFinite(losses.GReal + losses.Fake + losses.Real)) {
          throw new Error(`losses became ${JSON.stringify(losses)} at iteration ${index}: training diverged (lower α or an LRateMultiplier)`);
        }
        if (this.iteration % this.iterationsPerEpoch === 0) {
          const seconds = (performance.now() - epochStart) / 1000;
          await this.endOfEpoch(epoch + 1, seconds, epochImages / seconds);
          epochStart = performance.now();
          epochImages = 0;
        }
      }
      this.applyPending();
      if (this.stopRequested) await this.writeCheckpoints(this.iteration / this.iterationsPerEpoch, null);
      // Ended only once every checkpoint is on disk.
      await this.writes;
      if (this.writeError) throw this.writeError;
      this.setStatus(this.stopRequested ? "stopped" : "completed");
    } catch (e) {
      await this.writes;
      const message = e instanceof Error ? e.message : String(e);
      this.emit({ type: "error", iteration: this.iteration, message });
      this.setStatus("failed", message);
    }
    return this.status;
  }

  private async endOfEpoch(epoch: number, seconds: number, imagesPerSec: number): Promise<void> {
    const monitor = this.config.saveBest ? await this.monitor() : null;
    this.emit({ type: "epoch", epoch, iteration: this.iteration, seconds, imagesPerSec, monitor });
    const grid = await this.sampleGrid();
    this.emit({ type: "sampleGrid", epoch, iteration: this.iteration, ...grid });
    if (this.diagnostics) {
      const report = await this.diagnostics.evaluate(this.model, epoch, { iteration: this.iteration });
      this.emit({ type: "diagnostics", ...report });
    }
    if (epoch % this.config.checkpointEvery === 0 || epoch === this.config.maxEpoch) {
      await this.writeCheckpoints(epoch, monitor);
    }
  }

  /**
   * Writes `latest/` (and `best/` when Save Best is on and the monitor improved). The state is read out of the model
   * now; the files are written in the background while the next iterations train (a checkpoint of NNC's network is
   * 53 MB), one write after the other, each reported by its `checkpoint` event once it is on disk. A failed write
   * fails the run at its next iteration; the loop ends only once every write is done.
   */
  private async writeCheckpoints(epoch: number, monitor: number | null): Promise<void> {
    if (!this.outDir) return;
    const dirs: ("latest" | "best")[] = ["latest"];
    if (monitor !== null && monitor < this.bestMonitor) {
      this.bestMonitor = monitor;
      dirs.push("best");
    }
    const captured = await captureCheckpoint(this.checkpointInput(monitor));
    for (const kind of dirs) {
      const dir = path.join(this.outDir, kind);
      this.queueWrite(dir, captured, (bytes) => this.emit({ type: "checkpoint", epoch, iteration: captured.iteration, dir, kind, bytes })).catch(
        (e: unknown) => {
          this.writeError ??= new Error(`could not write the ${kind} checkpoint to ${dir}: ${e instanceof Error ? e.message : String(e)}`);
        },
      );
    }
  }

  /**
   * Writes after every write queued before it; resolves with the bytes written. `written` runs before the next
   * queued write starts (so a listener can copy the folder as it is).
   */
  private queueWrite(dir: string, captured: CapturedCheckpoint, written?: (bytes: number) => void): Promise<number> {
    const done = this.writes.then(async () => {
      const bytes = await writeCapturedCheckpoint(dir, captured);
      written?.(bytes);
      return bytes;
    });
    this.writes = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** Writes a checkpoint of the current state to `dir` now (between iterations); returns its size in bytes. */
  async checkpoint(dir: string, monitor: number | null = null): Promise<number> {
    return this.queueWrite(dir, await captureCheckpoint(this.checkpointInput(monitor)));
  }

  /** Writes the weights alone (no optimizer state) to `dir`: a snapshot for a RuntimeGenerator elsewhere. */
  async snapshot(dir: string): Promise<number> {
    return this.queueWrite(dir, await captureCheckpoint(this.checkpointInput(null), { weightsOnly: true }));
  }

  private checkpointInput(monitor: number | null) {
    return {
      model: this.model,
      config: this.config,
      iteration: this.iteration,
      iterationsPerEpoch: this.iterationsPerEpoch,
      dataset: { ref: this.config.dataset, trainCount: this.train.count, numLabels: this.train.numLabels },
      backend: this.backend.name,
      monitor,
      ...(this.diagnostics ? { collapse: this.diagnostics.detector.state() } : {}),
    };
  }

  /** The sample grid: one row per label, `sampleColumns` columns, noise fixed for the whole run. */
  async sampleGrid(): Promise<{ png: Uint8Array; rows: number; cols: number; labels: number[] }> {
    const rows = this.model.resolved.spec.numLabels;
    const cols = this.config.sampleColumns;
    const labels = Array.from({ length: rows * cols }, (_, i) => Math.floor(i / cols));
    const [height, width, channels] = this.model.imageShape;
    const pixels = tf.tidy(() => this.model.generatePixels(this.model.noise(rows * cols, Stream.sampleGrid), labels));
    // data(), not dataSync(): webgpu in Node cannot read synchronously.
    const data = (await pixels.data()) as Float32Array;
    pixels.dispose();
    const grid = tileGrid(data, { count: rows * cols, height, width, channels: channels as 1 | 3, rows, cols });
    return { png: encodePng(grid), rows, cols, labels: Array.from({ length: rows }, (_, i) => i) };
  }

  /** Save Best's monitor: the Generator network's loss on validation labels with fixed noise. */
  private async monitor(): Promise<number> {
    const B = this.config.batchSize;
    const batches = Math.min(MONITOR_BATCHES, Math.floor(this.validation.count / B));
    if (batches === 0) return Number.NaN;
    let sum = 0;
    for (let k = 0; k < batches; k++) {
      const labels = this.validation.labels.subarray(k * B, (k + 1) * B);
      const z = this.model.noise(B, Stream.sampleGrid, 1, k);
      const loss = this.model.evaluateLoss("Generator", z, labels);
      z.dispose();
      sum += (await loss.data())[0]!;
      loss.dispose();
    }
    return sum / batches;
  }

  /** Frees every tensor of the run. The trainer cannot be used afterwards. */
  dispose(): void {
    this.diagnostics?.dispose();
    this.model.dispose();
  }
}
