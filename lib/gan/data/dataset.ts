/**
 * In-memory labelled image data sets and the operations the trainer needs on them: validation, a stratified
 * train/validation split, a label-balanced subset, per-epoch shuffles and batch gathering.
 *
 * This module is pure TypeScript (no Node APIs), so the browser may load it. The loaders that read files
 * (`mnist-bundled.ts`, `idx.ts`, `nnc-csv.ts`) are Node-only.
 *
 * Every random choice goes through `../rng.ts` with a purpose key, so a split or an epoch order is a pure
 * function of (seed, keys) and repeats exactly across runs and resumes.
 */
import type { RasterImage } from "../image";
import { Rng, Stream, deriveSeed } from "../rng";

/** An in-memory labelled image data set, NHWC, pixel values in [0,1]. */
export interface ImageDataset {
  /** A short identifier, e.g. "mnist-bundled" or "mnist-bundled/train". */
  name: string;
  height: number;
  width: number;
  channels: 1 | 3;
  /** Labels are integers 0..numLabels-1. */
  numLabels: number;
  /** Number of images. */
  count: number;
  /** count*height*width*channels values, image i at offset i*height*width*channels, NHWC. */
  images: Float32Array;
  /** count labels. */
  labels: Int32Array;
}

export type DatasetErrorCode =
  | "missing_file"
  | "bad_format"
  | "wrong_image_size"
  | "mixed_sizes"
  | "label_out_of_range"
  | "label_not_integer"
  | "undecodable_image"
  | "empty_class"
  | "too_few_images"
  | "missing_image"
  // The importer (import.ts, zip.ts, store.ts): see docs/datasets.md for each code.
  | "bad_archive"
  | "unsupported_format"
  | "image_too_large"
  | "too_few_labels"
  | "too_large"
  | "too_many_files"
  | "zip_bomb"
  | "unsafe_path"
  | "symlink"
  | "aborted";

/** Where a {@link DatasetError} happened; every field is optional. */
export interface DatasetErrorInfo {
  /** The data file (IDX file, CSV file) the error is about. */
  file?: string;
  /**
   * The record the error is about. CSV loaders: the 1-based physical line number in the CSV where the record
   * starts (the header is line 1, so the first data record is usually line 2), as an editor shows it.
   * IDX loaders: the 0-based item index in the file.
   */
  row?: number;
  /** The image file (resolved path) for errors about one image of a CSV data set. */
  image?: string;
  /** The label the error is about (empty_class, too_few_images, label_out_of_range). */
  label?: number;
}

/**
 * A data set could not be loaded or does not fit the trainer. `code` is stable for programs; `message` is for
 * people and already names the file, row and image where known.
 */
export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  readonly file?: string;
  readonly row?: number;
  readonly image?: string;
  readonly label?: number;

  constructor(code: DatasetErrorCode, message: string, info: DatasetErrorInfo = {}) {
    const where: string[] = [];
    if (info.file !== undefined) where.push(info.file);
    if (info.row !== undefined) where.push(`row ${info.row}`);
    super(where.length > 0 ? `${where.join(", ")}: ${message}` : message);
    this.name = "DatasetError";
    this.code = code;
    if (info.file !== undefined) this.file = info.file;
    if (info.row !== undefined) this.row = info.row;
    if (info.image !== undefined) this.image = info.image;
    if (info.label !== undefined) this.label = info.label;
  }
}

/**
 * A DatasetError as another process reported it: the message is kept as it was written (it already names the
 * file and row), the fields are restored. Codes unknown here still come through, as strings.
 */
export function datasetErrorFrom(report: { code: string; message: string; file?: string; row?: number; image?: string; label?: number }): DatasetError {
  const e = new DatasetError(report.code as DatasetErrorCode, "", {
    ...(report.file !== undefined ? { file: report.file } : {}),
    ...(report.row !== undefined ? { row: report.row } : {}),
    ...(report.image !== undefined ? { image: report.image } : {}),
    ...(report.label !== undefined ? { label: report.label } : {}),
  });
  e.message = report.message;
  return e;
}

/** Values per image: height*width*channels. */
export function imageSize(ds: Pick<ImageDataset, "height" | "width" | "channels">): number {
  return ds.height * ds.width * ds.channels;
}

/**
 * Checks that the arrays match the declared shape (lengths, labels in 0..numLabels-1). Throws DatasetError
 * 'bad_format' for inconsistent lengths or shape, 'label_out_of_range' (row = 0-based index) for a bad label.
 * Cheap (one pass over the labels); the loaders and the transforms here already produce consistent sets.
 */
export function checkDatasetShape(ds: ImageDataset): void {
  const positive = (n: number) => Number.isInteger(n) && n > 0;
  if (!positive(ds.height) || !positive(ds.width) || (ds.channels !== 1 && ds.channels !== 3)) {
    throw new DatasetError("bad_format", `data set "${ds.name}" has an invalid shape ${ds.height}x${ds.width}x${ds.channels}`);
  }
  if (!positive(ds.numLabels)) {
    throw new DatasetError("bad_format", `data set "${ds.name}" has numLabels ${ds.numLabels}`);
  }
  if (!Number.isInteger(ds.count) || ds.count < 0) {
    throw new DatasetError("bad_format", `data set "${ds.name}" has count ${ds.count}`);
  }
  if (ds.images.length !== ds.count * imageSize(ds) || ds.labels.length !== ds.count) {
    throw new DatasetError(
      "bad_format",
      `data set "${ds.name}": ${ds.images.length} pixel values and ${ds.labels.length} labels ` +
        `do not match count ${ds.count} of ${ds.height}x${ds.width}x${ds.channels} images`,
    );
  }
  for (let i = 0; i < ds.count; i++) {
    const label = ds.labels[i]!;
    if (label < 0 || label >= ds.numLabels) {
      throw new DatasetError("label_out_of_range", `label ${label} is outside 0..${ds.numLabels - 1}`, { row: i, label });
    }
  }
}

/** Number of images of each label: an array of length numLabels. */
export function countPerLabel(ds: Pick<ImageDataset, "numLabels" | "count" | "labels">): number[] {
  const counts = new Array<number>(ds.numLabels).fill(0);
  for (let i = 0; i < ds.count; i++) {
    const label = ds.labels[i]!;
    if (label >= 0 && label < ds.numLabels) counts[label] = counts[label]! + 1;
  }
  return counts;
}

/** What a data set holds, for logs and the UI. */
export interface DatasetSummary {
  name: string;
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
  numLabels: number;
  /** Images per label, index = label. */
  perLabel: number[];
  minPerLabel: number;
  maxPerLabel: number;
}

/** Counts per label and the shape of a data set. */
export function datasetSummary(ds: ImageDataset): DatasetSummary {
  const perLabel = countPerLabel(ds);
  return {
    name: ds.name,
    count: ds.count,
    height: ds.height,
    width: ds.width,
    channels: ds.channels,
    numLabels: ds.numLabels,
    perLabel,
    minPerLabel: perLabel.length > 0 ? Math.min(...perLabel) : 0,
    maxPerLabel: perLabel.length > 0 ? Math.max(...perLabel) : 0,
  };
}

/**
 * Checks a data set before training: its shape ({@link checkDatasetShape}), then every label 0..numLabels-1.
 * A label with no image throws 'empty_class' (naming the label; a conditional GAN cannot learn a label it never
 * sees); a label with fewer than `minPerLabel` images (default 1) throws 'too_few_images'. Returns the summary.
 */
export function validateDataset(ds: ImageDataset, options: { minPerLabel?: number } = {}): DatasetSummary {
  const minPerLabel = options.minPerLabel ?? 1;
  checkDatasetShape(ds);
  const summary = datasetSummary(ds);
  summary.perLabel.forEach((n, label) => {
    if (n === 0) {
      throw new DatasetError("empty_class", `label ${label} has no images (labels must be 0..${ds.numLabels - 1}, each with at least one image)`, { label });
    }
    if (n < minPerLabel) {
      throw new DatasetError("too_few_images", `label ${label} has ${n} image${n === 1 ? "" : "s"}, fewer than the ${minPerLabel} required`, { label });
    }
  });
  return summary;
}

/**
 * A new data set holding the images at `indices` of `ds`, in that order (pixels copied). Indices must be
 * integers in 0..count-1 (RangeError otherwise). numLabels is kept, even if a label no longer occurs.
 */
export function selectIndices(ds: ImageDataset, indices: ArrayLike<number>, name = ds.name): ImageDataset {
  const size = imageSize(ds);
  const count = indices.length;
  const images = new Float32Array(count * size);
  const labels = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new RangeError(`index ${i} is outside 0..${ds.count - 1} of data set "${ds.name}"`);
    }
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i]!;
  }
  return { ...ds, name, count, images, labels };
}

/** Indices of each label, in data-set order: result[label] lists the indices with that label. */
function indicesByLabel(ds: ImageDataset): number[][] {
  const byLabel: number[][] = Array.from({ length: ds.numLabels }, () => []);
  for (let i = 0; i < ds.count; i++) {
    const label = ds.labels[i]!;
    const list = byLabel[label];
    if (list === undefined) {
      throw new DatasetError("label_out_of_range", `label ${label} is outside 0..${ds.numLabels - 1}`, {
        row: i,
        label,
      });
    }
    list.push(i);
  }
  return byLabel;
}

export interface SplitOptions {
  /** Share of each label's images that go to validation, in [0, 1). Default 1/6 (MNIST's 10k of 60k). */
  validationFraction?: number;
  /** The run's seed. */
  seed: number;
}

/**
 * Stratified, deterministic split into training and validation sets.
 *
 * For each label with n images, round(n * validationFraction) of them (at most n-1, so training keeps every
 * label that has an image) are drawn for validation by a permutation from
 * `new Rng(deriveSeed(seed, Stream.split, label))`; a label's draw depends only on the seed and that label's
 * images. Both parts keep the original data-set order of their images. Names get "/train" and "/validation".
 * Throws RangeError for a fraction outside [0, 1).
 */
export function splitDataset(ds: ImageDataset, options: SplitOptions): { train: ImageDataset; validation: ImageDataset } {
  const fraction = options.validationFraction ?? 1 / 6;
  if (!(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`validationFraction must be in [0, 1), got ${fraction}`);
  }
  const inValidation = new Uint8Array(ds.count);
  indicesByLabel(ds).forEach((members, label) => {
    const n = members.length;
    if (n === 0) return;
    const take = Math.min(n - 1, Math.round(n * fraction));
    if (take <= 0) return;
    const order = new Rng(deriveSeed(options.seed, Stream.split, label)).permutation(n);
    for (let k = 0; k < take; k++) inValidation[members[order[k]!]!] = 1;
  });
  const trainIdx: number[] = [];
  const validIdx: number[] = [];
  for (let i = 0; i < ds.count; i++) (inValidation[i] ? validIdx : trainIdx).push(i);
  return {
    train: selectIndices(ds, trainIdx, `${ds.name}/train`),
    validation: selectIndices(ds, validIdx, `${ds.name}/validation`),
  };
}

/**
 * The first `limit` images in label round-robin order: the first image of label 0, of label 1, …, of the last
 * label, then the second image of each label, and so on (labels that run out are skipped). So any
 * limit ≥ numLabels contains every label that has images, and the labels stay as balanced as the data allow.
 * No randomness: the order within a label is the data-set order. Returns `ds` itself when limit ≥ count;
 * the name gets "/limit<N>" otherwise. Throws RangeError for a negative or non-integer limit.
 */
export function subsetDataset(ds: ImageDataset, limit: number): ImageDataset {
  if (!Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  }
  if (limit >= ds.count) return ds;
  const byLabel = indicesByLabel(ds);
  const chosen: number[] = [];
  for (let round = 0; chosen.length < limit; round++) {
    for (const members of byLabel) {
      const i = members[round];
      if (i !== undefined) {
        chosen.push(i);
        if (chosen.length === limit) break;
      }
    }
  }
  return selectIndices(ds, chosen, `${ds.name}/limit${limit}`);
}

/**
 * The order in which epoch `epoch` visits the images: a permutation of 0..count-1 from
 * `new Rng(deriveSeed(seed, Stream.shuffle, epoch))`. Same (count, seed, epoch) → same order.
 */
export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  return new Rng(deriveSeed(seed, Stream.shuffle, epoch)).permutation(count);
}

/**
 * Number of full batches in one epoch: floor(count / batchSize). The remainder is dropped so every batch has
 * the same shape. Throws DatasetError 'too_few_images' when count < batchSize, RangeError for a batch size
 * that is not a positive integer.
 */
export function iterationsPerEpoch(count: number, batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  }
  if (count < batchSize) {
    throw new DatasetError(
      "too_few_images",
      `the training set has ${count} image${count === 1 ? "" : "s"}, fewer than one batch of ${batchSize}: ` +
        `lower the batch size to at most ${count} or use more data`,
    );
  }
  return Math.floor(count / batchSize);
}

/** One batch: images batchSize*height*width*channels (NHWC), labels batchSize. */
export interface Batch {
  images: Float32Array;
  labels: Int32Array;
}

/**
 * Copies the images and labels at indices[start .. start+batchSize) of `ds` into one batch (NHWC).
 * Pass `out` to reuse buffers across iterations (they must have exactly the batch's lengths).
 * Throws RangeError when the slice runs past `indices` or an index is outside the data set.
 */
export function gatherBatch(ds: ImageDataset, indices: ArrayLike<number>, start: number, batchSize: number, out?: Batch): Batch {
  if (start < 0 || start + batchSize > indices.length) {
    throw new RangeError(`batch [${start}, ${start + batchSize}) is outside the ${indices.length} indices of the epoch order`);
  }
  const size = imageSize(ds);
  const images = out?.images ?? new Float32Array(batchSize * size);
  const labels = out?.labels ?? new Int32Array(batchSize);
  if (images.length !== batchSize * size || labels.length !== batchSize) {
    throw new RangeError(`output buffers do not match a batch of ${batchSize} images of ${size} values`);
  }
  for (let k = 0; k < batchSize; k++) {
    const i = indices[start + k]!;
    if (!(i >= 0 && i < ds.count)) {
      throw new RangeError(`index ${i} is outside 0..${ds.count - 1} of data set "${ds.name}"`);
    }
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i]!;
  }
  return { images, labels };
}

/** Image `index` of a data set as a view (no copy) of its pixels: { width, height, channels, data }. */
export function imageAt(ds: ImageDataset, index: number): RasterImage {
  if (!Number.isInteger(index) || index < 0 || index >= ds.count) {
    throw new RangeError(`index ${index} is outside 0..${ds.count - 1} of data set "${ds.name}"`);
  }
  const size = imageSize(ds);
  return {
    width: ds.width,
    height: ds.height,
    channels: ds.channels,
    data: ds.images.subarray(index * size, (index + 1) * size),
  };
}
