/**
 * Neural Network Console (NNC) dataset CSVs: a header naming the variables, then one record per image, e.g.
 *
 *   x:image,y:label
 *   ./training/5/00001.png,5
 *
 * NNC's column naming is `<variable>:<description>`: the image column is `x:image` (or any `x` / `x:…` column),
 * a path to a PNG relative to the CSV's folder (absolute paths are kept; `\` separators, as NNC on Windows
 * writes them, are read as `/`); the label column is `y:label` (or any `y` / `y:…` column), an integer ≥ 0.
 * Columns may come in any order; other columns are ignored.
 *
 * Node-only (fs).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { type ByteImage, decodePngBytes, placeImage } from "../image";
import { DatasetError, type ImageDataset } from "./dataset";

/** Labels are capped so that a typo (e.g. an id in the label column) fails clearly instead of making a huge one-hot. */
const MAX_LABELS = 65536;

/** One CSV record: its fields and the 1-based line number where it starts. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * Parses CSV text (RFC 4180): fields separated by commas, optionally double-quoted ("" inside quotes is one
 * quote; quoted fields may hold commas and line breaks); records end at LF, CRLF or CR; a leading BOM is
 * skipped; lines that are empty or only whitespace are skipped. Unquoted fields are trimmed of surrounding
 * spaces. Throws DatasetError 'bad_format' (file, row = line) for an unterminated quote.
 */
export function parseCsv(text: string, file?: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let field = "";
    let quoted = false;
    let endOfRecord = false;
    while (!endOfRecord) {
      if (i >= n) {
        fields.push(quoted ? field : field.trim());
        break;
      }
      const ch = text[i]!;
      if (ch === '"' && field.trim() === "" && !quoted) {
        // Opening quote (spaces before it are dropped).
        field = "";
        quoted = true;
        i++;
        let closed = false;
        while (i < n) {
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
          field += c;
          i++;
        }
        if (!closed) {
          throw new DatasetError("bad_format", "a quoted field is not closed", {
            ...(file !== undefined ? { file } : {}),
            row: startLine,
          });
        }
        // Anything between the closing quote and the next separator is kept (lenient).
        continue;
      }
      if (ch === ",") {
        fields.push(quoted ? field : field.trim());
        field = "";
        quoted = false;
        i++;
        continue;
      }
      if (ch === "\r" || ch === "\n") {
        fields.push(quoted ? field : field.trim());
        i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
        line++;
        endOfRecord = true;
        continue;
      }
      field += ch;
      i++;
    }
    if (!(fields.length === 1 && fields[0] === "")) records.push({ fields, line: startLine });
  }
  return records;
}

/** The column of NNC variable `variable` in a CSV header: `x:image` / `y:label`, else `x` / `x:…` (or `y`…); -1 if none. */
export function findCsvColumn(header: string[], variable: "x" | "y"): number {
  const names = header.map((h) => h.trim().toLowerCase());
  const exact = names.indexOf(variable === "x" ? "x:image" : "y:label");
  if (exact >= 0) return exact;
  return names.findIndex((h) => h === variable || h.startsWith(`${variable}:`));
}

/** The image (`x`) and label (`y`) columns of a CSV's header record, or 'bad_format' (row = its line) naming what it lacks. */
export function csvColumns(header: CsvRecord, file: string): { xCol: number; yCol: number } {
  const xCol = findCsvColumn(header.fields, "x");
  const yCol = findCsvColumn(header.fields, "y");
  if (xCol < 0 || yCol < 0) {
    const lacks = [xCol < 0 ? "an image column (x:image)" : "", yCol < 0 ? "a label column (y:label)" : ""].filter(Boolean).join(" and ");
    throw new DatasetError("bad_format", `the header "${header.fields.join(",")}" lacks ${lacks}`, { file, row: header.line });
  }
  return { xCol, yCol };
}

/**
 * One record's image path (as written) and label, checked in order: both fields there ('bad_format'), the label
 * a base-10 integer ('label_not_integer') in 0..maxLabel ('label_out_of_range'), the path not empty ('bad_format').
 * `show` shortens the raw text quoted in messages.
 */
export function csvRecordFields(
  record: CsvRecord,
  columns: { xCol: number; yCol: number },
  headerFields: number,
  maxLabel: number,
  file: string,
  show: (raw: string) => string = (raw) => raw,
): { rawPath: string; label: number } {
  const { fields, line: row } = record;
  const rawPath = fields[columns.xCol];
  const rawLabel = fields[columns.yCol];
  if (rawPath === undefined || rawLabel === undefined) {
    throw new DatasetError("bad_format", `the record has ${fields.length} field${fields.length === 1 ? "" : "s"}, the header ${headerFields}`, { file, row });
  }
  if (!/^[+-]?\d+$/.test(rawLabel)) {
    throw new DatasetError("label_not_integer", `label "${show(rawLabel)}" is not an integer`, { file, row });
  }
  const label = Number.parseInt(rawLabel, 10);
  if (!(label >= 0 && label <= maxLabel)) {
    throw new DatasetError("label_out_of_range", `label ${show(rawLabel)} is outside 0..${maxLabel}`, { file, row, label });
  }
  if (rawPath === "") throw new DatasetError("bad_format", "the image path is empty", { file, row });
  return { rawPath, label };
}

export interface LoadNncCsvOptions {
  /** Required image height; if given with or without width, every image must have it ('wrong_image_size'). */
  height?: number;
  /** Required image width. */
  width?: number;
  /** Data set name; default the CSV's file name without extension. */
  name?: string;
  /**
   * Number of labels. If given, every label must be below it ('label_out_of_range'); if omitted,
   * numLabels = max(label) + 1.
   */
  numLabels?: number;
}

/**
 * Loads an NNC dataset CSV and the PNGs it names as one data set, pixels in [0,1].
 *
 * Channels: 1 if every image is grayscale (a gray PNG, or R = G = B everywhere), else 3 (gray images are
 * replicated into R, G, B). Alpha is composited over black (see decodePngBytes in image.ts).
 *
 * Errors are DatasetError with `file` = the CSV path and, for a record, `row` = the 1-based line number in the
 * CSV where the record starts (header = line 1); `image` = the resolved image path for image errors:
 * - 'missing_file': the CSV does not exist;
 * - 'bad_format': no `x`/`y` columns in the header, no data records, a record with too few fields,
 *   an empty image path, an unterminated quote;
 * - 'missing_image': the image file does not exist (the message has the path as written and resolved);
 * - 'undecodable_image': the file is not a PNG pngjs can read;
 * - 'wrong_image_size': an image differs from the requested height/width;
 * - 'mixed_sizes': an image differs from the first image's size (when no size was requested);
 * - 'label_not_integer': the label is not a base-10 integer;
 * - 'label_out_of_range': a negative label, or one ≥ options.numLabels (default limit 65536).
 * Records are checked in order; the first problem throws.
 */
export function loadNncCsv(csvPath: string, options: LoadNncCsvOptions = {}): ImageDataset {
  const file = csvPath;
  if (!existsSync(csvPath)) throw new DatasetError("missing_file", "file not found", { file });
  let text: string;
  try {
    text = readFileSync(csvPath, "utf8");
  } catch (e) {
    throw new DatasetError("missing_file", `cannot read (${(e as Error).message})`, { file });
  }
  const records = parseCsv(text, file);
  const header = records[0];
  if (header === undefined) throw new DatasetError("bad_format", "the file is empty (expected a header x:image,y:label)", { file });
  const columns = csvColumns(header, file);
  const rows = records.slice(1);
  if (rows.length === 0) throw new DatasetError("bad_format", "no data records after the header", { file });

  const baseDir = dirname(resolve(csvPath));
  const count = rows.length;
  const labels = new Int32Array(count);
  let height: number | undefined;
  let width: number | undefined;
  let channels: 1 | 3 = 1;
  let pixels: Uint8Array | undefined; // count*h*w*channels bytes
  let maxLabel = -1;

  for (let k = 0; k < count; k++) {
    const row = rows[k]!.line;
    const { rawPath, label } = csvRecordFields(rows[k]!, columns, header.fields.length, (options.numLabels ?? MAX_LABELS) - 1, file);
    labels[k] = label;
    if (label > maxLabel) maxLabel = label;

    const written = rawPath.replace(/\\/g, "/");
    const image = isAbsolute(written) ? written : resolve(baseDir, written);
    if (!existsSync(image)) {
      throw new DatasetError("missing_image", `image "${rawPath}" not found (looked for ${image})`, {
        file,
        row,
        image,
      });
    }
    let decoded: ByteImage;
    try {
      decoded = decodePngBytes(readFileSync(image));
    } catch (e) {
      throw new DatasetError("undecodable_image", `image ${image} is not a readable PNG (${(e as Error).message})`, {
        file,
        row,
        image,
      });
    }
    const got = `${decoded.width}x${decoded.height}`;
    if ((options.height !== undefined && decoded.height !== options.height) || (options.width !== undefined && decoded.width !== options.width)) {
      const want = `${options.width ?? "any"}x${options.height ?? "any"}`;
      throw new DatasetError("wrong_image_size", `image ${image} is ${got} (width x height), expected ${want}`, {
        file,
        row,
        image,
      });
    }
    if (height === undefined || width === undefined) {
      height = decoded.height;
      width = decoded.width;
    } else if (decoded.height !== height || decoded.width !== width) {
      throw new DatasetError("mixed_sizes", `image ${image} is ${got} (width x height), the first image is ${width}x${height}`, { file, row, image });
    }
    const plane = height * width;
    if (pixels === undefined) pixels = new Uint8Array(count * plane);
    ({ pixels, channels } = placeImage(pixels, channels, count, plane, k, decoded));
  }

  const bytes = pixels!;
  const images = new Float32Array(bytes.length);
  const inv = 1 / 255;
  for (let i = 0; i < images.length; i++) images[i] = bytes[i]! * inv;
  const base = csvPath.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
  return {
    name: options.name ?? (base || "nnc-csv"),
    height: height!,
    width: width!,
    channels,
    numLabels: options.numLabels ?? maxLabel + 1,
    count,
    images,
    labels,
  };
}
