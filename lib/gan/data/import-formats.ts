/**
 * The three data set layouts an import recognises in a source tree, and what each yields before decoding:
 *
 * - `idx`: one MNIST-style IDX pair, images (`…idx3-ubyte`) and labels (`…idx1-ubyte`), each optionally
 *   gzipped: MNIST, Fashion-MNIST, EMNIST. EMNIST's files store each image transposed (column-major) compared
 *   with MNIST; the importer keeps images exactly as stored and does not guess (transpose them before import
 *   if you want upright letters).
 * - `nnc-csv`: one Neural Network Console dataset CSV (`x:image,y:label`), image paths relative to the CSV
 *   (`\` read as `/`); inside an archive or upload they must stay inside it.
 * - `folders`: one folder per label, optionally all under a single top folder. Folder names that are all
 *   integers are the labels; otherwise the names, sorted, become labels 0..n-1 and are kept as labelNames.
 *
 * Anything else, or more than one of these, is 'unsupported_format' saying what was found and what is expected.
 */
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { DatasetError } from "./dataset";
import { parseIdx, type IdxFile } from "./idx";
import type { ImportLimits } from "./import";
import { IDX_IMAGES, IDX_LABELS, resolveCsvPath, type SourceFile, type SourceTree } from "./import-sources";
import { csvColumns, csvRecordFields, parseCsv } from "./nnc-csv";

export type DatasetFormat = "idx" | "nnc-csv" | "folders";

/** One image to decode: where it is, its label, and the CSV line that named it. */
export interface ImageItem {
  file: SourceFile;
  label: number;
  /** 1-based CSV line (nnc-csv only). */
  row?: number;
  /** The CSV's path in the tree (nnc-csv only), for messages. */
  csv?: string;
}

export type FormatPlan =
  | { format: "idx"; images: SourceFile; labels: SourceFile }
  | { format: "nnc-csv"; csv: SourceFile }
  | { format: "folders"; items: ImageItem[]; labelNames?: string[] };

const IMAGE_FILE = /\.(png|jpe?g)$/i;

function list(names: string[], max = 4): string {
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown}, … (${names.length} in all)` : shown;
}

const EXPECTED =
  "expected one of: an IDX pair (…-images-idx3-ubyte and …-labels-idx1-ubyte, optionally .gz), " +
  "one NNC dataset CSV (x:image,y:label) with its images, or one folder per label holding PNG or JPEG images";

/** Decides which layout a tree holds; throws 'unsupported_format' or 'missing_file' (an IDX file without its partner). */
export function detectFormat(tree: SourceTree, limits: ImportLimits): FormatPlan {
  const paths = tree.files.map((f) => f.path);
  const csvs = paths.filter((p) => /\.csv$/i.test(p));
  const idxImages = paths.filter((p) => IDX_IMAGES.test(p));
  const idxLabels = paths.filter((p) => IDX_LABELS.test(p));
  const images = paths.filter((p) => IMAGE_FILE.test(p));
  const zips = paths.filter((p) => /\.zip$/i.test(p));
  const idx = [...idxImages, ...idxLabels];
  const where = tree.label;
  const unsupported = (found: string) => new DatasetError("unsupported_format", `${where}: found ${found}; ${EXPECTED}`, { file: where });

  if (csvs.length > 1)
    throw unsupported(
      `${csvs.length} CSV files (${list(csvs)}): import one CSV at a time (give the path of that .csv, or a zip holding one CSV and its images)`,
    );
  if (csvs.length === 1 && idx.length > 0) throw unsupported(`both an NNC CSV (${csvs[0]}) and IDX files (${list(idx)})`);
  if (csvs.length === 1) return { format: "nnc-csv", csv: tree.byPath.get(csvs[0]!)! };
  if (idx.length > 0) {
    if (images.length > 0) throw unsupported(`both IDX files (${list(idx)}) and ${images.length} image files (${list(images, 2)})`);
    if (idxImages.length > 1 || idxLabels.length > 1) {
      throw unsupported(`${idxImages.length} IDX images files and ${idxLabels.length} IDX labels files (${list(idx)}): import one pair at a time`);
    }
    if (idxImages.length === 0 || idxLabels.length === 0) {
      const have = idx[0]!;
      throw new DatasetError(
        "missing_file",
        `${where}: the IDX ${idxImages.length === 0 ? "labels" : "images"} file ${have} needs its ` +
          `${idxImages.length === 0 ? "images (…-images-idx3-ubyte)" : "labels (…-labels-idx1-ubyte)"} file beside it`,
        { file: have },
      );
    }
    return { format: "idx", images: tree.byPath.get(idxImages[0]!)!, labels: tree.byPath.get(idxLabels[0]!)! };
  }
  if (images.length > 0) return folderPlan(tree, images, limits);
  if (zips.length > 0) throw unsupported(`an archive inside the source (${list(zips)}): import that .zip itself`);
  throw unsupported(paths.length === 0 ? "no files" : `no images, CSV or IDX files among ${paths.length} files (${list(paths)})`);
}

/** One folder per label (under an optional single top folder); labels from integer names or sorted names. */
function folderPlan(tree: SourceTree, images: string[], limits: ImportLimits): FormatPlan {
  let split = images.map((p) => p.split("/"));
  const top = split[0]![0]!;
  if (split.every((s) => s.length >= 3 && s[0] === top)) split = split.map((s) => s.slice(1));
  const stray = split.findIndex((s) => s.length !== 2);
  if (stray >= 0) {
    const p = images[stray]!;
    const why = split[stray]!.length < 2 ? "is not inside a label folder" : "is nested deeper than a label folder";
    throw new DatasetError(
      "unsupported_format",
      `${tree.label}: the image ${p} ${why}; expected one folder per label holding the images (0/…, 1/… or cat/…, dog/…), ` +
        `optionally all under one top folder, or an NNC CSV or an IDX pair`,
      { file: p },
    );
  }
  const folders = [...new Set(split.map((s) => s[0]!))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const integers = folders.every((f) => /^\d+$/.test(f));
  const labelOf = new Map<string, number>();
  let labelNames: string[] | undefined;
  if (integers) {
    for (const f of folders) {
      const label = Number.parseInt(f, 10);
      if (label > limits.maxLabel) {
        const folder = path.posix.dirname(images[split.findIndex((s) => s[0] === f)]!);
        throw new DatasetError("label_out_of_range", `the label folder ${folder} is outside 0..${limits.maxLabel}`, { file: folder, label });
      }
      labelOf.set(f, label);
    }
  } else {
    labelNames = folders;
    folders.forEach((f, i) => {
      labelOf.set(f, i);
    });
  }
  const items: ImageItem[] = images.map((p, i) => ({ file: tree.byPath.get(p)!, label: labelOf.get(split[i]![0]!)! }));
  return labelNames ? { format: "folders", items, labelNames } : { format: "folders", items };
}

/**
 * The records of an NNC CSV as image items, checked in order: label an integer ('label_not_integer'), in
 * 0..maxLabel ('label_out_of_range'), a non-empty path ('bad_format') that stays inside the archive
 * ('unsafe_path', unless the tree allows it), an existing image ('missing_image'). CSV-level errors have
 * file = the CSV and row = the line; image errors have file = the image path.
 */
export function csvItems(tree: SourceTree, csv: SourceFile, limits: ImportLimits): ImageItem[] {
  const file = csv.path;
  const text = new TextDecoder().decode(csv.read());
  const records = parseCsv(text, file);
  const header = records[0];
  if (header === undefined) throw new DatasetError("bad_format", "the CSV is empty (expected a header x:image,y:label)", { file });
  const columns = csvColumns(header, file);
  const rows = records.slice(1);
  if (rows.length === 0) throw new DatasetError("bad_format", "no data records after the header", { file });
  const items: ImageItem[] = [];
  for (const record of rows) {
    const row = record.line;
    const { rawPath, label } = csvRecordFields(record, columns, header.fields.length, limits.maxLabel, file, (raw) => raw.slice(0, 40));
    const { key, outside } = resolveCsvPath(file, rawPath);
    if (outside && !tree.allowOutside) {
      throw new DatasetError("unsafe_path", `the image path "${rawPath.slice(0, 200)}" leaves ${tree.label}; paths must stay inside it`, {
        file,
        row,
      });
    }
    if (rawPath.includes("\0")) throw new DatasetError("unsafe_path", "the image path holds a NUL byte", { file, row });
    const image = tree.byPath.get(key);
    if (image === undefined) {
      throw new DatasetError("missing_image", `image "${rawPath.slice(0, 200)}" named on line ${row} of ${file} is not in ${tree.label} (looked for ${key})`, {
        file: key,
        row,
        image: key,
      });
    }
    items.push({ file: image, label, row, csv: file });
  }
  return items;
}

/**
 * Reads one IDX file of a pair: gunzipped (when it starts with the gzip signature) with the output capped at
 * `maxBytes` ('too_large' past it), then parsed (parseIdx: 'bad_format' for anything malformed).
 */
export function readIdx(file: SourceFile, maxBytes: number): IdxFile {
  let bytes = file.read();
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      const out = gunzipSync(bytes, { maxOutputLength: Math.max(1, maxBytes) });
      bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
        throw new DatasetError("too_large", `decompresses to more than the ${maxBytes} bytes an import may decode`, { file: file.path });
      }
      throw new DatasetError("bad_format", `corrupt gzip data (${err.message})`, { file: file.path });
    }
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      throw new DatasetError("bad_format", "gzipped twice: gunzip it once before importing", { file: file.path });
    }
  }
  return parseIdx(bytes, file.path);
}

/** A name for a data set from its source: the IDX images file's prefix, the CSV's or archive's name. */
export function defaultDatasetName(tree: SourceTree, plan: FormatPlan): string {
  const strip = (p: string) => path.posix.basename(p).replace(/\.(gz|zip|csv)$/i, "");
  let name: string;
  if (plan.format === "idx") name = strip(plan.images.path).replace(/[-._]?images[-._]?idx3-ubyte$/i, "") || "idx";
  else if (plan.format === "nnc-csv") name = strip(plan.csv.path);
  else name = strip(tree.label);
  return name || "dataset";
}
