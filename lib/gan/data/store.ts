/**
 * The data set store: imported data sets on disk, content-addressed, written atomically.
 *
 *   <dir>/objects/<id>/images.u8     count × height × width × channels bytes, NHWC, in source order
 *   <dir>/objects/<id>/labels.u16    count labels, uint16 little-endian
 *   <dir>/objects/<id>/meta.json     StoredDatasetMeta
 *   <dir>/sources/<sourceHash>.json  { "id": … }: this source (same bytes, same resize options) was imported
 *   <dir>/.tmp-<pid>-<random>        work folders of imports in progress
 *
 * id = "ds-" + the first 20 hex digits of sha256(header + image bytes + label bytes), where the header is
 * `gan-studio-dataset-v1\n` + JSON [height, width, channels, numLabels, count] + `\n`. The same pixels and
 * labels give the same id whatever format they came in; a name or label names do not change it.
 *
 * An import writes everything into a `.tmp-…` folder, fsyncs it and renames it to objects/<id> (if that exists
 * already, the work is dropped and the stored one reused); the source entry is written last. So a failed or
 * cancelled import leaves nothing behind, and a crash leaves at most a `.tmp-…` folder, removed the next time
 * a store is opened on the folder (unless the process that made it is still running).
 *
 * Node-only (fs, crypto).
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { DatasetError, type ImageDataset } from "./dataset";
import { decodeSource, ProgressReporter, resolveLimits, type DecodedDataset, type ImportLimits, type ImportProgress, type ResizeMode } from "./import";
import type { DatasetFormat } from "./import-formats";
import { openPathSource, openUploadSource, type SourceTree, type UploadedFile } from "./import-sources";
import { deriveSeed, Rng } from "../rng";

export { DEFAULT_IMPORT_LIMITS, type ImportLimits, type ImportPhase, type ImportProgress, type ResizeMode } from "./import";
export type { UploadedFile } from "./import-sources";

/** What the store keeps about a data set (objects/<id>/meta.json). */
export interface StoredDatasetMeta {
  id: string;
  /** Full sha256 (hex) of the content; id is "ds-" + its first 20 digits. */
  hash: string;
  name: string;
  count: number;
  numLabels: number;
  /** Images per label, index = label. */
  perLabel: number[];
  /** [height, width, channels]. */
  imageShape: [number, number, 1 | 3];
  /** Names of labels 0..n-1 when the folders had names rather than numbers. */
  labelNames?: string[];
  format: DatasetFormat;
  /** Where it came from: a file or folder name (never a full path), or the uploaded files' names. */
  source: string;
  /** Images scaled by resize "fit". */
  resized: number;
  /** ISO 8601. */
  importedAt: string;
  importedBy?: string;
  /** Bytes on disk: images.u8 + labels.u16. */
  bytes: number;
}

export interface ImportOptions {
  /** The data set's name; default from the source (archive, CSV or IDX file name). */
  name?: string;
  importedBy?: string;
  /** "reject" (default): every image must have one size, at most maxSide; "fit": scale every image to one size. */
  resize?: ResizeMode;
  /** resize "fit" only: [height, width]; default the most common size, shrunk to fit maxSide × maxSide. */
  size?: [number, number];
  /** Overrides of DEFAULT_IMPORT_LIMITS. */
  limits?: Partial<ImportLimits>;
  /** Progress, at most about every 1% or 200 ms; throwing from it aborts the import. */
  onProgress?: (p: ImportProgress) => void;
  /** Cancels the import ('aborted'); checked between images. */
  signal?: AbortSignal;
}

export interface ImportResult {
  dataset: StoredDatasetMeta;
  /** True when the data set was already in the store (same source, or same content from another source). */
  reused: boolean;
}

/** Data set ids: "ds-" and 20 lowercase hex digits. */
export const DATASET_ID = /^ds-[0-9a-f]{20}$/;

/** The store folder when none is given: env GAN_DATASETS_DIR, else ./data/datasets. */
export function defaultStoreDir(): string {
  return process.env.GAN_DATASETS_DIR || "./data/datasets";
}

const HASH_VERSION = "gan-studio-dataset-v1";
const SOURCE_VERSION = "gan-studio-source-v1";
/** Work folders this process is writing right now: opening another store on the same folder keeps them. */
const activeWork = new Set<string>();
/** Preview draws: a purpose key of our own for deriveSeed, apart from rng.ts's Stream values. */
const PREVIEW_STREAM = 0x70726576;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Writes bytes to a new file and fsyncs it. */
function writeFileDurably(file: string, chunks: Iterable<Uint8Array>): void {
  const fd = openSync(file, "wx");
  try {
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  }
}

/** Labels as uint16 little-endian bytes. */
function labelBytes(labels: Uint16Array): Uint8Array {
  const out = new Uint8Array(labels.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < labels.length; i++) view.setUint16(i * 2, labels[i]!, true);
  return out;
}

/** The content hash of a decoded data set (see the module comment). */
export function contentHash(d: Pick<DecodedDataset, "height" | "width" | "channels" | "numLabels" | "count" | "images">, labels: Uint8Array): string {
  return createHash("sha256")
    .update(`${HASH_VERSION}\n${JSON.stringify([d.height, d.width, d.channels, d.numLabels, d.count])}\n`)
    .update(d.images)
    .update(labels)
    .digest("hex");
}

export class DatasetStore {
  /** The store's folder, absolute. */
  readonly dir: string;

  /** Opens (does not create) a store; removes work folders left by imports that died. */
  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.removeStaleWork();
  }

  private get objectsDir(): string {
    return path.join(this.dir, "objects");
  }

  private get sourcesDir(): string {
    return path.join(this.dir, "sources");
  }

  private removeStaleWork(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(".tmp-")) continue;
      const full = path.join(this.dir, name);
      if (activeWork.has(full)) continue;
      const pid = /^\.tmp-(\d+)-/.exec(name)?.[1];
      if (pid !== undefined && Number(pid) !== process.pid && isAlive(Number(pid))) continue;
      rmSync(full, { recursive: true, force: true });
    }
  }

  /** The folder of a stored data set. Throws RangeError for a string that is not a data set id. */
  objectDir(id: string): string {
    if (!DATASET_ID.test(id)) throw new RangeError(`"${id}" is not a data set id (ds- and 20 hex digits)`);
    return path.join(this.objectsDir, id);
  }

  has(id: string): boolean {
    return DATASET_ID.test(id) && existsSync(path.join(this.objectDir(id), "meta.json"));
  }

  /** The data set's meta, or undefined when the store does not hold it. */
  get(id: string): StoredDatasetMeta | undefined {
    if (!DATASET_ID.test(id)) return undefined;
    try {
      return JSON.parse(readFileSync(path.join(this.objectDir(id), "meta.json"), "utf8")) as StoredDatasetMeta;
    } catch {
      return undefined;
    }
  }

  /** Every stored data set, newest first. */
  list(): StoredDatasetMeta[] {
    let names: string[];
    try {
      names = readdirSync(this.objectsDir);
    } catch {
      return [];
    }
    return names
      .flatMap((id) => {
        const meta = this.get(id);
        return meta ? [meta] : [];
      })
      .sort((a, b) => (a.importedAt !== b.importedAt ? (a.importedAt < b.importedAt ? 1 : -1) : a.id < b.id ? -1 : 1));
  }

  /** Imports a folder, a .zip, an IDX file (with its labels partner) or an NNC .csv from disk. */
  importPath(target: string, options: ImportOptions = {}): Promise<ImportResult> {
    return this.importSource((limits, progress) => openPathSource(target, limits, progress), options);
  }

  /** Imports uploaded files: one .zip, an IDX images + labels pair (optionally .gz), or a folder's files. */
  importFiles(files: UploadedFile[], options: ImportOptions = {}): Promise<ImportResult> {
    return this.importSource(async (limits, progress) => {
      progress.start("reading", 1);
      const tree = openUploadSource(files, limits);
      progress.finish();
      return tree;
    }, options);
  }

  private async importSource(open: (limits: ImportLimits, progress: ProgressReporter) => Promise<SourceTree>, options: ImportOptions): Promise<ImportResult> {
    const limits = resolveLimits(options.limits);
    const progress = new ProgressReporter(options.onProgress, options.signal);
    progress.checkAbort();
    const tree = await open(limits, progress);
    const resize = options.resize ?? "reject";
    const sourceHash = createHash("sha256")
      .update(JSON.stringify([SOURCE_VERSION, tree.digest, resize, resize === "fit" ? (options.size ?? null) : null]))
      .digest("hex");
    const known = this.readSource(sourceHash);
    const knownMeta = known !== undefined ? this.get(known) : undefined;
    if (knownMeta) {
      progress.done(knownMeta.count);
      return { dataset: knownMeta, reused: true };
    }

    const decoded = await decodeSource(tree, { resize, ...(options.size ? { size: options.size } : {}), limits, progress });
    const labels = labelBytes(decoded.labels);
    const hash = contentHash(decoded, labels);
    const id = `ds-${hash.slice(0, 20)}`;
    const existing = this.get(id);
    if (existing) {
      this.writeSource(sourceHash, id);
      progress.done(existing.count);
      return { dataset: existing, reused: true };
    }
    const meta: StoredDatasetMeta = {
      id,
      hash,
      name: options.name?.trim() || decoded.defaultName,
      count: decoded.count,
      numLabels: decoded.numLabels,
      perLabel: decoded.perLabel,
      imageShape: [decoded.height, decoded.width, decoded.channels],
      ...(decoded.labelNames ? { labelNames: decoded.labelNames } : {}),
      format: decoded.format,
      source: tree.label,
      resized: decoded.resized,
      importedAt: new Date().toISOString(),
      ...(options.importedBy !== undefined ? { importedBy: options.importedBy } : {}),
      bytes: decoded.images.length + labels.length,
    };
    const stored = await this.writeObject(meta, decoded, labels, progress);
    this.writeSource(sourceHash, id);
    progress.done(stored.meta.count);
    return { dataset: stored.meta, reused: stored.reused };
  }

  /** A new work folder in the store, registered so no other store instance removes it. */
  private newWorkDir(): string {
    mkdirSync(this.dir, { recursive: true });
    const work = path.join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
    mkdirSync(work);
    activeWork.add(work);
    return work;
  }

  private async writeObject(
    meta: StoredDatasetMeta,
    decoded: DecodedDataset,
    labels: Uint8Array,
    progress: ProgressReporter,
  ): Promise<{ meta: StoredDatasetMeta; reused: boolean }> {
    const work = this.newWorkDir();
    try {
      const { count, images } = decoded;
      const perImage = images.length / count;
      const chunk = Math.max(1, Math.ceil(count / 100));
      progress.start("storing", count);
      const fd = openSync(path.join(work, "images.u8"), "wx");
      try {
        for (let i = 0; i < count; i += chunk) {
          const end = Math.min(count, i + chunk);
          const part = images.subarray(i * perImage, end * perImage);
          let off = 0;
          while (off < part.length) off += writeSync(fd, part, off, part.length - off);
          await progress.step(end);
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      writeFileDurably(path.join(work, "labels.u16"), [labels]);
      writeFileDurably(path.join(work, "meta.json"), [Buffer.from(`${JSON.stringify(meta, null, 2)}\n`)]);
      fsyncDir(work);
      progress.finish();
      mkdirSync(this.objectsDir, { recursive: true });
      const target = this.objectDir(meta.id);
      try {
        renameSync(work, target);
      } catch (e) {
        const existing = this.get(meta.id);
        if (existing) return { meta: existing, reused: true }; // imported meanwhile by someone else
        throw e;
      }
      fsyncDir(this.objectsDir);
      return { meta, reused: false };
    } finally {
      rmSync(work, { recursive: true, force: true });
      activeWork.delete(work);
    }
  }

  private readSource(sourceHash: string): string | undefined {
    try {
      const entry = JSON.parse(readFileSync(path.join(this.sourcesDir, `${sourceHash}.json`), "utf8")) as { id?: unknown };
      return typeof entry.id === "string" && DATASET_ID.test(entry.id) ? entry.id : undefined;
    } catch {
      return undefined;
    }
  }

  private writeSource(sourceHash: string, id: string): void {
    mkdirSync(this.sourcesDir, { recursive: true });
    const tmp = path.join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}.json`);
    activeWork.add(tmp);
    try {
      writeFileDurably(tmp, [Buffer.from(`${JSON.stringify({ id })}\n`)]);
      renameSync(tmp, path.join(this.sourcesDir, `${sourceHash}.json`));
    } finally {
      rmSync(tmp, { force: true });
      activeWork.delete(tmp);
    }
  }

  /**
   * A stored data set as an ImageDataset: pixels byte/255 in [0,1], name = id, numLabels from the meta.
   * Throws DatasetError 'missing_file' when the store does not hold it, 'bad_format' when its files do not
   * match its meta.
   */
  load(id: string): ImageDataset {
    const meta = this.get(id);
    if (!meta) throw new DatasetError("missing_file", `data set ${id} is not in the store ${this.dir}`, { file: id });
    const dir = this.objectDir(id);
    const [height, width, channels] = meta.imageShape;
    let bytes: Uint8Array;
    let labelData: Uint8Array;
    try {
      bytes = readFileSync(path.join(dir, "images.u8"));
      labelData = readFileSync(path.join(dir, "labels.u16"));
    } catch (e) {
      throw new DatasetError("missing_file", `data set ${id} in ${this.dir} cannot be read (${(e as Error).message})`, { file: id });
    }
    if (bytes.length !== meta.count * height * width * channels || labelData.length !== meta.count * 2) {
      throw new DatasetError("bad_format", `data set ${id} in ${this.dir} is corrupt: its files do not match its meta.json`, { file: id });
    }
    const images = new Float32Array(bytes.length);
    const inv = 1 / 255;
    for (let i = 0; i < bytes.length; i++) images[i] = bytes[i]! * inv;
    const view = new DataView(labelData.buffer, labelData.byteOffset, labelData.byteLength);
    const labels = new Int32Array(meta.count);
    for (let i = 0; i < meta.count; i++) {
      const label = view.getUint16(i * 2, true);
      if (label >= meta.numLabels) {
        throw new DatasetError("bad_format", `data set ${id} in ${this.dir} is corrupt: label ${label} ≥ numLabels ${meta.numLabels}`, { file: id, row: i });
      }
      labels[i] = label;
    }
    return { name: id, height, width, channels, numLabels: meta.numLabels, count: meta.count, images, labels };
  }

  /**
   * Indices of up to `perLabel` images of each label, drawn at random but the same for the same seed: for a
   * preview grid. result[label] lists that label's picks in draw order. Undefined for an unknown id.
   */
  examples(id: string, perLabel: number, seed = 0): number[][] | undefined {
    const meta = this.get(id);
    if (!meta) return undefined;
    const data = readFileSync(path.join(this.objectDir(id), "labels.u16"));
    const byLabel: number[][] = Array.from({ length: meta.numLabels }, () => []);
    for (let i = 0; i * 2 + 1 < data.length; i++) byLabel[data[i * 2]! | (data[i * 2 + 1]! << 8)]?.push(i);
    return byLabel.map((members, label) => {
      const order = new Rng(deriveSeed(seed, PREVIEW_STREAM, label)).permutation(members.length);
      return Array.from(order.subarray(0, Math.min(perLabel, members.length)), (k) => members[k]!);
    });
  }

  /**
   * The images at `indices` (pixels in [0,1], NHWC, in that order), read from disk one by one: a preview of a large
   * data set without loading all of it. Throws DatasetError 'missing_file' for an unknown id, RangeError for an
   * index outside it.
   */
  readImages(id: string, indices: readonly number[]): Float32Array {
    const meta = this.get(id);
    if (!meta) throw new DatasetError("missing_file", `data set ${id} is not in the store ${this.dir}`, { file: id });
    const size = meta.imageShape[0] * meta.imageShape[1] * meta.imageShape[2];
    const out = new Float32Array(indices.length * size);
    const buf = Buffer.alloc(size);
    const inv = 1 / 255; // as load() scales
    const fd = openSync(path.join(this.objectDir(id), "images.u8"), "r");
    try {
      indices.forEach((index, k) => {
        if (!Number.isInteger(index) || index < 0 || index >= meta.count)
          throw new RangeError(`index ${index} is outside 0..${meta.count - 1} of data set ${id}`);
        readSync(fd, buf, 0, size, index * size);
        for (let p = 0; p < size; p++) out[k * size + p] = buf[p]! * inv;
      });
    } finally {
      closeSync(fd);
    }
    return out;
  }

  /** Removes a data set and the source entries that point to it; false when the store did not hold it. */
  remove(id: string): boolean {
    if (!this.has(id)) return false;
    const work = path.join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
    activeWork.add(work);
    try {
      renameSync(this.objectDir(id), work); // gone at once for readers; deleted below
      rmSync(work, { recursive: true, force: true });
    } finally {
      activeWork.delete(work);
    }
    let names: string[] = [];
    try {
      names = readdirSync(this.sourcesDir);
    } catch {
      // no sources yet
    }
    for (const name of names) {
      if (name.endsWith(".json") && this.readSource(name.slice(0, -5)) === id) rmSync(path.join(this.sourcesDir, name), { force: true });
    }
    return true;
  }
}
