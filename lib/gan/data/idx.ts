/**
 * MNIST's own IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, …), plain or gzipped.
 *
 * Format: big-endian. Magic 0x00000803 = unsigned bytes, 3 dimensions [n, rows, cols] (images);
 * 0x00000801 = unsigned bytes, 1 dimension [n] (labels). Then one uint32 per dimension, then the data.
 * A file starting with 0x1f 0x8b is gunzipped first.
 *
 * Node-only (fs, zlib).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { DatasetError, type ImageDataset } from "./dataset";

const MAGIC_IMAGES = 0x00000803;
const MAGIC_LABELS = 0x00000801;

/** The parsed contents of one IDX file. `data` is a view into the (decompressed) bytes. */
export type IdxFile = { kind: "images"; count: number; rows: number; cols: number; data: Uint8Array } | { kind: "labels"; count: number; data: Uint8Array };

/**
 * Parses an IDX images (0x00000803) or labels (0x00000801) file; gunzips first if the bytes start with the gzip
 * signature. `file` names the file in errors. Throws DatasetError 'bad_format' (with `file`) for a corrupt
 * gzip stream, an unknown magic (other element types or dimension counts are not supported), a zero image
 * dimension, or data shorter or longer than the header says.
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxFile {
  let buf = bytes;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      const out = gunzipSync(buf);
      buf = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      throw new DatasetError("bad_format", `corrupt gzip data (${(e as Error).message})`, { file });
    }
  }
  if (buf.length < 8) {
    throw new DatasetError("bad_format", `too short for an IDX header (${buf.length} bytes)`, { file });
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  const hex = `0x${magic.toString(16).padStart(8, "0")}`;
  let dims: number[];
  if (magic === MAGIC_IMAGES) {
    if (buf.length < 16) {
      throw new DatasetError("bad_format", `truncated IDX images header (${buf.length} bytes)`, { file });
    }
    dims = [view.getUint32(4, false), view.getUint32(8, false), view.getUint32(12, false)];
  } else if (magic === MAGIC_LABELS) {
    dims = [view.getUint32(4, false)];
  } else {
    throw new DatasetError("bad_format", `not an IDX file of unsigned bytes: magic ${hex}, expected 0x00000803 (images) or 0x00000801 (labels)`, { file });
  }
  const headerBytes = 4 + 4 * dims.length;
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = buf.length - headerBytes;
  if (actual !== expected) {
    throw new DatasetError(
      "bad_format",
      `${actual < expected ? "truncated" : "trailing bytes"}: the header [${dims.join(", ")}] ` + `needs ${expected} data bytes, the file has ${actual}`,
      { file },
    );
  }
  const data = buf.subarray(headerBytes);
  const count = dims[0]!;
  if (magic === MAGIC_LABELS) return { kind: "labels", count, data };
  const rows = dims[1]!;
  const cols = dims[2]!;
  if (rows === 0 || cols === 0) {
    throw new DatasetError("bad_format", `image size ${rows}x${cols} is empty`, { file });
  }
  return { kind: "images", count, rows, cols, data };
}

function readIdxFile(path: string): IdxFile {
  if (!existsSync(path)) throw new DatasetError("missing_file", "file not found", { file: path });
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DatasetError("missing_file", `cannot read (${(e as Error).message})`, { file: path });
  }
  return parseIdx(bytes, path);
}

export interface LoadIdxOptions {
  /** Data set name; default "idx". */
  name?: string;
  /**
   * Number of labels. If given, every label must be below it (else 'label_out_of_range'); if omitted,
   * numLabels = max(label) + 1 (so a set whose labels are 0..9 gets 10).
   */
  numLabels?: number;
}

/**
 * Loads an IDX images file and its IDX labels file (each plain or gzipped) as a 1-channel data set,
 * pixels byte/255. Throws DatasetError: 'missing_file' (file = the missing path), 'bad_format' (a file that is
 * not the expected kind, corrupt, or the two counts differ; file = the offending file, for a count mismatch
 * the images file with both counts in the message), 'label_out_of_range' (file = labels file, row = 0-based
 * item index) when options.numLabels is given and a label is ≥ it.
 */
export function loadIdx(imagesPath: string, labelsPath: string, options: LoadIdxOptions = {}): ImageDataset {
  const images = readIdxFile(imagesPath);
  if (images.kind !== "images") {
    throw new DatasetError("bad_format", "expected an IDX images file (magic 0x00000803), found a labels file", {
      file: imagesPath,
    });
  }
  const labels = readIdxFile(labelsPath);
  if (labels.kind !== "labels") {
    throw new DatasetError("bad_format", "expected an IDX labels file (magic 0x00000801), found an images file", {
      file: labelsPath,
    });
  }
  if (images.count !== labels.count) {
    throw new DatasetError("bad_format", `${images.count} images but ${labels.count} labels in ${labelsPath}`, { file: imagesPath });
  }
  let maxLabel = -1;
  const labelArr = new Int32Array(labels.count);
  for (let i = 0; i < labels.count; i++) {
    const label = labels.data[i]!;
    if (options.numLabels !== undefined && label >= options.numLabels) {
      throw new DatasetError("label_out_of_range", `label ${label} is outside 0..${options.numLabels - 1}`, {
        file: labelsPath,
        row: i,
        label,
      });
    }
    labelArr[i] = label;
    if (label > maxLabel) maxLabel = label;
  }
  const pixels = new Float32Array(images.data.length);
  const inv = 1 / 255;
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i]! * inv;
  return {
    name: options.name ?? "idx",
    height: images.rows,
    width: images.cols,
    channels: 1,
    numLabels: options.numLabels ?? Math.max(1, maxLabel + 1),
    count: images.count,
    images: pixels,
    labels: labelArr,
  };
}

/**
 * Encodes an IDX images file: `pixels` holds count*rows*cols bytes (row-major). Gzipped when `gzip` is true.
 * For tests and for exporting data sets.
 */
export function encodeIdxImages(pixels: Uint8Array, count: number, rows: number, cols: number, gzip = false): Uint8Array {
  if (pixels.length !== count * rows * cols) {
    throw new RangeError(`${pixels.length} bytes do not match ${count}x${rows}x${cols}`);
  }
  const out = new Uint8Array(16 + pixels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC_IMAGES, false);
  view.setUint32(4, count, false);
  view.setUint32(8, rows, false);
  view.setUint32(12, cols, false);
  out.set(pixels, 16);
  return gzip ? new Uint8Array(gzipSync(out)) : out;
}

/** Encodes an IDX labels file (one byte per label, 0..255). Gzipped when `gzip` is true. */
export function encodeIdxLabels(labels: ArrayLike<number>, gzip = false): Uint8Array {
  const out = new Uint8Array(8 + labels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC_LABELS, false);
  view.setUint32(4, labels.length, false);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label > 255) throw new RangeError(`label ${label} is not a byte`);
    out[8 + i] = label;
  }
  return gzip ? new Uint8Array(gzipSync(out)) : out;
}

/**
 * Writes a data set as an IDX images file and an IDX labels file (pixels rounded to bytes). 1-channel sets
 * only (IDX images have no channel dimension); labels must be < 256.
 */
export function writeIdx(ds: ImageDataset, imagesPath: string, labelsPath: string, gzip = false): void {
  if (ds.channels !== 1) throw new RangeError("IDX images hold one channel; the data set has 3");
  const bytes = new Uint8Array(ds.images.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, ds.images[i]!)) * 255);
  writeFileSync(imagesPath, encodeIdxImages(bytes, ds.count, ds.height, ds.width, gzip));
  writeFileSync(labelsPath, encodeIdxLabels(ds.labels, gzip));
}
