/**
 * The data set importer's core: from a source tree (import-sources.ts) and its layout (import-formats.ts) to
 * one block of image bytes (NHWC uint8) and labels, validated, ready for the store (store.ts).
 *
 * Order of checks, cheapest first, so a bad data set fails before anything is decoded where possible:
 * limits and paths while the source is read; the layout; every CSV record (labels, paths, missing images);
 * the set of labels (enough images, no empty class, at least two labels); then each image in order (its
 * header's size, then the decode).
 *
 * Node-only.
 */
import { DatasetError } from "./dataset";
import { csvItems, defaultDatasetName, detectFormat, readIdx, type DatasetFormat, type ImageItem } from "./import-formats";
import { decodeImage, MAX_SOURCE_PIXELS, sniffImage, type ImageHeader } from "./import-images";
import { type ByteImage, placeImage } from "../image";
import type { SourceTree } from "./import-sources";
import { fitImage, shrinkToFit } from "./resize";
import { formatBytes } from "./zip";

/** Every limit an import enforces; the store's defaults, each overridable (tests use tiny ones). */
export interface ImportLimits {
  /** Bytes of the input: the zip or file, the folder's files, the uploaded files together. */
  maxUploadBytes: number;
  /** Files in a folder, entries in a zip, uploaded files. */
  maxFiles: number;
  /** Decompressed bytes of one zip entry. */
  maxEntryBytes: number;
  /** Decompressed bytes of a zip's files together. */
  maxTotalBytes: number;
  /** Largest decompressed/compressed ratio of a zip entry (entries above 64 KiB). */
  maxRatio: number;
  /** Bytes of the decoded data set: count × height × width × channels (also caps gunzipped IDX files). */
  maxDecodedBytes: number;
  /** Largest image side kept as it is; `resize: "fit"` scales larger images down to it. */
  maxSide: number;
  /** Largest label. */
  maxLabel: number;
  /** Fewest images in a data set. */
  minImages: number;
  /** Fewest images of each label. */
  minPerLabel: number;
}

export const DEFAULT_IMPORT_LIMITS: Readonly<ImportLimits> = Object.freeze({
  maxUploadBytes: 512 * 2 ** 20,
  maxFiles: 200_000,
  maxEntryBytes: 64 * 2 ** 20,
  maxTotalBytes: 2 * 2 ** 30,
  maxRatio: 1000,
  maxDecodedBytes: 2 ** 30,
  maxSide: 64,
  maxLabel: 999,
  minImages: 20,
  minPerLabel: 2,
});

/** The defaults with `overrides` applied; throws RangeError for a limit that is not a number ≥ 0. */
export function resolveLimits(overrides: Partial<ImportLimits> = {}): ImportLimits {
  const limits: ImportLimits = { ...DEFAULT_IMPORT_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in DEFAULT_IMPORT_LIMITS)) throw new RangeError(`unknown import limit "${key}"`);
    if (value === undefined) continue;
    if (typeof value !== "number" || !(value >= 0)) throw new RangeError(`import limit ${key} must be a number ≥ 0, got ${String(value)}`);
    limits[key as keyof ImportLimits] = value;
  }
  return limits;
}

export type ImportPhase = "reading" | "decoding" | "storing" | "done";

export interface ImportProgress {
  phase: ImportPhase;
  done: number;
  total: number;
}

/** "reject": every image must have the first image's size (≤ maxSide); "fit": scale every image to one size. */
export type ResizeMode = "reject" | "fit";

/** Yield to the event loop after this many steps, so a server stays responsive during an import. */
const YIELD_EVERY = 256;
const MIN_INTERVAL_MS = 200;

/**
 * Reports progress to an optional callback, at most about once per 1% of a phase or per 200 ms (plus each
 * phase's start and end), checks an optional AbortSignal at every step ('aborted'), and yields to the event
 * loop every few hundred steps. A callback that throws aborts the import (and leaves no trace in the store).
 */
export class ProgressReporter {
  private phase: ImportPhase = "reading";
  private total = 0;
  private lastDone = 0;
  private lastTime = 0;
  private steps = 0;

  constructor(
    private readonly callback?: (p: ImportProgress) => void,
    private readonly signal?: AbortSignal,
  ) {}

  checkAbort(): void {
    if (this.signal?.aborted) throw new DatasetError("aborted", "the import was cancelled");
  }

  private emit(done: number): void {
    this.lastDone = done;
    this.lastTime = Date.now();
    this.callback?.({ phase: this.phase, done, total: this.total });
  }

  start(phase: ImportPhase, total: number): void {
    this.checkAbort();
    this.phase = phase;
    this.total = total;
    this.emit(0);
  }

  /** `done` of the phase's total are done. */
  async step(done: number): Promise<void> {
    this.checkAbort();
    if (done - this.lastDone >= this.total / 100 || (done > this.lastDone && Date.now() - this.lastTime >= MIN_INTERVAL_MS)) {
      if (done < this.total) this.emit(done);
    }
    if (++this.steps % YIELD_EVERY === 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.checkAbort();
    }
  }

  /** The phase is complete. */
  finish(): void {
    this.checkAbort();
    this.emit(this.total);
  }

  /** The import is complete: one "done" report with the data set's image count. */
  done(count: number): void {
    this.phase = "done";
    this.total = count;
    this.emit(count);
  }
}

/** A decoded data set, before it is stored. */
export interface DecodedDataset {
  format: DatasetFormat;
  height: number;
  width: number;
  channels: 1 | 3;
  count: number;
  /** Labels 0..numLabels-1, each with at least minPerLabel images. */
  numLabels: number;
  /** count × height × width × channels bytes, NHWC, in source order. */
  images: Uint8Array;
  labels: Uint16Array;
  perLabel: number[];
  /** Names of labels 0..n-1 when the folders had names rather than numbers. */
  labelNames?: string[];
  /** Images that were scaled (resize "fit"). */
  resized: number;
  /** A name from the source: the archive, CSV or IDX file name. */
  defaultName: string;
}

export interface DecodeOptions {
  resize?: ResizeMode;
  /** Target [height, width] for resize "fit"; default the most common size, shrunk to fit maxSide. */
  size?: [number, number];
  limits: ImportLimits;
  progress: ProgressReporter;
}

/** Checks `resize` and `size`; RangeError for values a caller should never pass. */
function checkOptions(options: DecodeOptions): void {
  if (options.resize !== undefined && options.resize !== "reject" && options.resize !== "fit") {
    throw new RangeError(`resize must be "reject" or "fit", got "${String(options.resize)}"`);
  }
  const size = options.size;
  if (size !== undefined) {
    const side = options.limits.maxSide;
    if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 1 && v <= side)) {
      throw new RangeError(`size must be [height, width], integers in 1..${side}, got ${JSON.stringify(size)}`);
    }
  }
}

/** Detects the layout of `tree`, validates it and decodes every image. Throws DatasetError (see docs/datasets.md). */
export async function decodeSource(tree: SourceTree, options: DecodeOptions): Promise<DecodedDataset> {
  checkOptions(options);
  const { limits } = options;
  const plan = detectFormat(tree, limits);
  const defaultName = defaultDatasetName(tree, plan);
  if (plan.format === "idx") {
    const images = readIdx(plan.images, limits.maxDecodedBytes + 16);
    if (images.kind !== "images") {
      throw new DatasetError("bad_format", "expected an IDX images file (magic 0x00000803), found a labels file", { file: plan.images.path });
    }
    const labelsFile = readIdx(plan.labels, limits.maxDecodedBytes + 8);
    if (labelsFile.kind !== "labels") {
      throw new DatasetError("bad_format", "expected an IDX labels file (magic 0x00000801), found an images file", { file: plan.labels.path });
    }
    if (images.count !== labelsFile.count) {
      throw new DatasetError("bad_format", `${images.count} images but ${labelsFile.count} labels in ${plan.labels.path}`, { file: plan.images.path });
    }
    const labels = new Uint16Array(labelsFile.count);
    for (let i = 0; i < labels.length; i++) {
      const label = labelsFile.data[i]!;
      if (label > limits.maxLabel) {
        throw new DatasetError("label_out_of_range", `label ${label} is outside 0..${limits.maxLabel}`, { file: plan.labels.path, row: i, label });
      }
      labels[i] = label;
    }
    const perLabel = checkLabels(labels, limits, tree.label);
    const { rows, cols, count } = images;
    const fit = options.resize === "fit";
    if (!fit && (rows > limits.maxSide || cols > limits.maxSide)) {
      throw new DatasetError(
        "image_too_large",
        `the images are ${rows}x${cols} (height x width), larger than ${limits.maxSide}x${limits.maxSide}: import with resize "fit" to scale them down`,
        { file: plan.images.path },
      );
    }
    const [th, tw] = fit ? (options.size ?? shrinkToFit(rows, cols, limits.maxSide)) : [rows, cols];
    checkDecodedBytes(count, th, tw, 1, limits, plan.images.path);
    options.progress.start("decoding", count);
    let pixels = images.data;
    let resized = 0;
    if (th !== rows || tw !== cols) {
      pixels = new Uint8Array(count * th * tw);
      const size = rows * cols;
      for (let i = 0; i < count; i++) {
        pixels.set(fitImage(images.data.subarray(i * size, (i + 1) * size), rows, cols, 1, th, tw), i * th * tw);
        await options.progress.step(i + 1);
      }
      resized = count;
    }
    options.progress.finish();
    return { format: "idx", height: th, width: tw, channels: 1, count, numLabels: perLabel.length, images: pixels, labels, perLabel, resized, defaultName };
  }

  const items = plan.format === "nnc-csv" ? csvItems(tree, plan.csv, limits) : plan.items;
  const labels = Uint16Array.from(items, (it) => it.label);
  const perLabel = checkLabels(labels, limits, plan.format === "nnc-csv" ? plan.csv.path : tree.label);
  const decoded = await decodeItems(items, options);
  return {
    format: plan.format,
    ...decoded,
    count: items.length,
    numLabels: perLabel.length,
    labels,
    perLabel,
    ...(plan.format === "folders" && plan.labelNames ? { labelNames: plan.labelNames } : {}),
    defaultName,
  };
}

/**
 * Checks the labels as a set: at least minImages images ('too_few_images'), at least two labels
 * ('too_few_labels'), every label from 0 to the largest has images ('empty_class', naming the label), each at
 * least minPerLabel ('too_few_images', naming the label). Returns the images per label.
 */
export function checkLabels(labels: Uint16Array, limits: ImportLimits, file: string): number[] {
  const count = labels.length;
  if (count < limits.minImages) {
    throw new DatasetError("too_few_images", `the data set has ${count} image${count === 1 ? "" : "s"}, fewer than the ${limits.minImages} required`, { file });
  }
  let max = 0;
  for (const l of labels) if (l > max) max = l;
  const perLabel = new Array<number>(max + 1).fill(0);
  for (const l of labels) perLabel[l]! += 1;
  const present = perLabel.filter((n) => n > 0).length;
  if (present < 2) {
    throw new DatasetError("too_few_labels", `every image has label ${max}: a conditional GAN needs at least two labels (two folders, or two label values)`, {
      file,
      label: max,
    });
  }
  perLabel.forEach((n, label) => {
    if (n === 0) {
      throw new DatasetError(
        "empty_class",
        `label ${label} has no images, but labels go up to ${max}: labels must be 0..${max} with images of each (renumber them or add images of ${label})`,
        { file, label },
      );
    }
  });
  perLabel.forEach((n, label) => {
    if (n < limits.minPerLabel) {
      throw new DatasetError("too_few_images", `label ${label} has ${n} image${n === 1 ? "" : "s"}, fewer than the ${limits.minPerLabel} each label needs`, {
        file,
        label,
      });
    }
  });
  return perLabel;
}

function checkDecodedBytes(count: number, h: number, w: number, c: number, limits: ImportLimits, file: string): void {
  const bytes = count * h * w * c;
  if (bytes > limits.maxDecodedBytes) {
    throw new DatasetError(
      "too_large",
      `${count} images of ${h}x${w}x${c} decode to ${formatBytes(bytes)}, more than the ${formatBytes(limits.maxDecodedBytes)} an import may hold`,
      { file },
    );
  }
}

/** Where an image error is: the image's path, the CSV line that named it, and that line in words. */
function at(item: ImageItem): { info: { file: string; row?: number; image: string }; note: string } {
  const info = { file: item.file.path, image: item.file.path, ...(item.row !== undefined ? { row: item.row } : {}) };
  return { info, note: item.csv !== undefined ? ` (named on line ${item.row} of ${item.csv})` : "" };
}

const hw = (h: number, w: number) => `${h}x${w}`;

/** Decodes the images of `items` into one NHWC byte block; sizes per the resize mode. */
async function decodeItems(
  items: ImageItem[],
  options: DecodeOptions,
): Promise<{ images: Uint8Array; height: number; width: number; channels: 1 | 3; resized: number }> {
  const { limits, progress } = options;
  const fit = options.resize === "fit";
  const n = items.length;

  const header = (item: ImageItem, bytes: Uint8Array): ImageHeader => {
    const h = sniffImage(bytes);
    const { info, note } = at(item);
    if (h === undefined || h.width === 0 || h.height === 0) {
      throw new DatasetError("undecodable_image", `not a PNG or JPEG image${note}`, info);
    }
    if (fit ? h.width * h.height > MAX_SOURCE_PIXELS : h.height > limits.maxSide || h.width > limits.maxSide) {
      const limit = fit
        ? `more than the ${MAX_SOURCE_PIXELS / 1e6} megapixels an image may have to be scaled down`
        : `larger than ${limits.maxSide}x${limits.maxSide}: import with resize "fit" to scale images down`;
      throw new DatasetError("image_too_large", `the image is ${hw(h.height, h.width)} (height x width), ${limit}${note}`, info);
    }
    return h;
  };

  // The target size: given, the most common size shrunk to fit (fit), or the first image's (reject).
  let target: [number, number] | undefined = fit ? options.size : undefined;
  let first = "";
  if (fit && target === undefined) {
    progress.start("reading", n);
    const counts = new Map<number, { count: number; first: number; h: number; w: number }>();
    for (let i = 0; i < n; i++) {
      const h = header(items[i]!, items[i]!.file.read());
      const key = h.height * 65536 + h.width;
      const c = counts.get(key);
      if (c) c.count++;
      else counts.set(key, { count: 1, first: i, h: h.height, w: h.width });
      await progress.step(i + 1);
    }
    progress.finish();
    let best: { count: number; first: number; h: number; w: number } | undefined;
    for (const c of counts.values()) if (!best || c.count > best.count || (c.count === best.count && c.first < best.first)) best = c;
    target = shrinkToFit(best!.h, best!.w, limits.maxSide);
  }

  progress.start("decoding", n);
  let out: Uint8Array | undefined;
  let channels: 1 | 3 = 1;
  let resized = 0;
  for (let i = 0; i < n; i++) {
    const item = items[i]!;
    const bytes = item.file.read();
    const h = header(item, bytes);
    const { info, note } = at(item);
    if (target === undefined) {
      target = [h.height, h.width];
      first = item.file.path;
    } else if (!fit && (h.height !== target[0] || h.width !== target[1])) {
      throw new DatasetError(
        "mixed_sizes",
        `the image is ${hw(h.height, h.width)} (height x width), the first image (${first}) is ${hw(target[0], target[1])}${note}: ` +
          `import with resize "fit" to scale every image to one size`,
        info,
      );
    }
    const [th, tw] = target;
    const plane = th * tw;
    if (out === undefined) {
      checkDecodedBytes(n, th, tw, 1, limits, item.file.path);
      out = new Uint8Array(n * plane);
    }
    let img: ByteImage;
    try {
      img = decodeImage(bytes, h.kind);
    } catch (e) {
      const reason = (e as Error).message;
      const code = /maxResolutionInMP|maxMemoryUsageInMB/.test(reason) ? "image_too_large" : "undecodable_image";
      throw new DatasetError(code, `not a readable ${h.kind === "png" ? "PNG" : "JPEG"} image (${reason})${note}`, info);
    }
    if (img.width !== h.width || img.height !== h.height) {
      throw new DatasetError("undecodable_image", `the header says ${hw(h.height, h.width)}, the image decodes to ${hw(img.height, img.width)}${note}`, info);
    }
    let data = img.data;
    if (img.height !== th || img.width !== tw) {
      data = fitImage(data, img.height, img.width, img.channels, th, tw);
      resized++;
    }
    // The first colour image makes the data set RGB: check that size first.
    ({ pixels: out, channels } = placeImage(out, channels, n, plane, i, { channels: img.channels, data }, () =>
      checkDecodedBytes(n, th, tw, 3, limits, item.file.path),
    ));
    await progress.step(i + 1);
  }
  progress.finish();
  return { images: out!, height: target![0], width: target![1], channels, resized };
}
