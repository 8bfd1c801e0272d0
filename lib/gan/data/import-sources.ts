/**
 * Where an import's files come from, seen as one virtual tree of files with "/"-separated relative paths:
 * a folder on disk, a zip file, a single file (an IDX file with its labels partner beside it, an NNC CSV with
 * the images it names), or a list of uploaded files (one zip, an IDX pair, or a folder's files).
 *
 * Every source is checked against the import limits before anything is decoded (sizes, file counts, paths,
 * links) and gets a digest of its bytes, which the store uses to recognise a source it has imported before.
 *
 * Node-only (fs, crypto).
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, readSync, readdirSync, type Stats } from "node:fs";
import path from "node:path";
import { DatasetError } from "./dataset";
import type { ImportLimits, ProgressReporter } from "./import";
import { isIgnoredPath, safeRelativePath, ZipArchive } from "./zip";
import { findCsvColumn, parseCsv } from "./nnc-csv";

/** One file of a source. */
export interface SourceFile {
  /** Path inside the source, "/"-separated (for an NNC CSV on disk: relative to the CSV's folder, or absolute). */
  path: string;
  /** Size in bytes (decompressed, for zip entries). */
  size: number;
  /** The file's bytes; throws DatasetError (a zip entry that is corrupt or a bomb, a file that went away). */
  read(): Uint8Array;
}

export interface SourceTree {
  kind: "folder" | "zip" | "file" | "upload";
  /** What the user gave, for messages and the data set's `source`: a file or folder name, never a full path. */
  label: string;
  /** The files, sorted by path; ignored files (`__MACOSX/`, dot-files) are not in it. */
  files: SourceFile[];
  byPath: Map<string, SourceFile>;
  /** sha256 (hex) of the source's bytes: the zip file itself, or every file's path, size and bytes. */
  digest: string;
  /**
   * True for an NNC CSV on disk, whose image paths may leave the CSV's folder (`../x.png`) or be absolute, as
   * NNC itself allows; inside an archive or an upload such paths are 'unsafe_path'.
   */
  allowOutside: boolean;
}

export interface UploadedFile {
  name: string;
  bytes: Uint8Array;
}

/** IDX file names: `train-images-idx3-ubyte`, `t10k-labels.idx1-ubyte.gz`, `emnist-letters-train-images-idx3-ubyte`. */
export const IDX_IMAGES = /idx3-ubyte(\.gz)?$/i;
export const IDX_LABELS = /idx1-ubyte(\.gz)?$/i;

const ZIP_MAGIC = [0x50, 0x4b];

function isZipName(name: string, bytes?: Uint8Array): boolean {
  if (/\.zip$/i.test(name)) return true;
  return (
    bytes !== undefined &&
    bytes.length >= 4 &&
    bytes[0] === ZIP_MAGIC[0] &&
    bytes[1] === ZIP_MAGIC[1] &&
    (bytes[2] === 3 || bytes[2] === 5) &&
    bytes[3] === bytes[2] + 1
  );
}

function sortedTree(kind: SourceTree["kind"], label: string, files: SourceFile[], digest: string, allowOutside = false): SourceTree {
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { kind, label, files, byPath: new Map(files.map((f) => [f.path, f])), digest, allowOutside };
}

/** Adds one file to a running digest: path, NUL, size as 8 bytes, the bytes. */
function hashFile(hash: Hash, filePath: string, bytes: Uint8Array): void {
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(bytes.length));
  hash.update(filePath);
  hash.update("\0");
  hash.update(size);
  hash.update(bytes);
}

function tooLarge(what: string, bytes: number, limits: ImportLimits, file?: string): DatasetError {
  return new DatasetError(
    "too_large",
    `${what} holds ${formatMiB(bytes)}, more than the ${formatMiB(limits.maxUploadBytes)} an import may hold`,
    file !== undefined ? { file } : {},
  );
}

function formatMiB(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(n >= 10 * 2 ** 20 ? 0 : 1)} MiB` : `${n} bytes`;
}

/**
 * Reads a file without following a symbolic link at its last component (a link swapped in after the walk is
 * refused too). `shown` names it in errors.
 */
export function readFileNoFollow(full: string, shown: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(full, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new DatasetError("symlink", "is a symbolic link; links are not allowed in data sets", { file: shown });
    throw new DatasetError("missing_file", `cannot be read (${(e as Error).message})`, { file: shown });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new DatasetError("missing_file", "is not a regular file", { file: shown });
    const out = Buffer.allocUnsafe(stat.size);
    let off = 0;
    while (off < out.length) {
      const n = readSync(fd, out, off, out.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === out.length ? out : out.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

function lstatOrMissing(full: string, shown: string): Stats {
  try {
    return lstatSync(full);
  } catch (e) {
    throw new DatasetError("missing_file", `not found (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: shown });
  }
}

/**
 * Opens a path on disk as a source: a folder, a .zip, an IDX file (with its partner), or an NNC .csv (with the
 * images it names). Throws 'missing_file', 'symlink', 'too_large', 'too_many_files', 'unsafe_path',
 * 'bad_archive', 'zip_bomb' or 'unsupported_format'.
 */
export async function openPathSource(target: string, limits: ImportLimits, progress: ProgressReporter): Promise<SourceTree> {
  const full = path.resolve(target);
  const label = path.basename(full);
  const stat = lstatOrMissing(full, target);
  if (stat.isSymbolicLink()) {
    throw new DatasetError("symlink", "is a symbolic link; give the path it points to, links are not allowed in data sets", { file: target });
  }
  if (stat.isDirectory()) return openFolder(full, label, limits, progress);
  if (!stat.isFile()) throw new DatasetError("unsupported_format", "is neither a file nor a folder", { file: target });
  if (stat.size > limits.maxUploadBytes) throw tooLarge(label, stat.size, limits, target);
  if (isZipName(label)) {
    progress.start("reading", 1);
    const bytes = readFileNoFollow(full, label);
    const tree = zipTree(bytes, label, limits);
    progress.finish();
    return tree;
  }
  if (IDX_IMAGES.test(label) || IDX_LABELS.test(label)) return openIdxPair(full, limits, progress);
  if (/\.csv$/i.test(label)) return openCsvOnDisk(full, limits, progress);
  const bytes = readFileNoFollow(full, label);
  if (isZipName(label, bytes)) return zipTree(bytes, label, limits);
  throw new DatasetError(
    "unsupported_format",
    `is not a data set: expected a folder (one subfolder per label, an NNC CSV, or an IDX pair), a .zip of one, ` +
      `an IDX file (…-images-idx3-ubyte[.gz], its labels file beside it) or an NNC dataset .csv`,
    { file: label },
  );
}

/**
 * A zip's files as a tree; the digest is the zip file's own. The central directory is read (and every entry
 * checked) when the files are first asked for, so a source the store has imported before costs only its hash.
 */
export function zipTree(bytes: Uint8Array, label: string, limits: ImportLimits): SourceTree {
  const digest = createHash("sha256").update("zip\0").update(bytes).digest("hex");
  let opened: SourceTree | undefined;
  const open = (): SourceTree => {
    if (opened === undefined) {
      const archive = ZipArchive.open(bytes, label, {
        maxEntries: limits.maxFiles,
        maxEntryBytes: limits.maxEntryBytes,
        maxTotalBytes: limits.maxTotalBytes,
        maxRatio: limits.maxRatio,
      });
      const files: SourceFile[] = archive.files.map((e) => ({ path: e.name, size: e.uncompressedSize, read: () => archive.read(e) }));
      opened = sortedTree("zip", label, files, digest);
    }
    return opened;
  };
  return {
    kind: "zip",
    label,
    digest,
    allowOutside: false,
    get files() {
      return open().files;
    },
    get byPath() {
      return open().byPath;
    },
  };
}

/** Walks a folder with lstat: a symbolic link anywhere is refused; dot-files, dot-folders and __MACOSX are skipped. */
async function openFolder(root: string, label: string, limits: ImportLimits, progress: ProgressReporter): Promise<SourceTree> {
  const found: Array<{ rel: string; full: string; size: number }> = [];
  let total = 0;
  const stack: string[] = [""];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const dir = rel === "" ? root : path.join(root, rel);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      throw new DatasetError("missing_file", `cannot list the folder (${(e as Error).message})`, { file: rel || label });
    }
    for (const name of names) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const full = path.join(dir, name);
      const st = lstatOrMissing(full, childRel);
      if (st.isSymbolicLink()) {
        throw new DatasetError("symlink", `is a symbolic link in ${label}; links are not allowed in data sets (copy the files instead)`, {
          file: childRel,
        });
      }
      if (isIgnoredPath(name)) continue;
      if (st.isDirectory()) {
        stack.push(childRel);
      } else if (st.isFile()) {
        found.push({ rel: childRel, full, size: st.size });
        if (found.length > limits.maxFiles) {
          throw new DatasetError("too_many_files", `${label} holds more than the ${limits.maxFiles} files an import may hold`, { file: label });
        }
        total += st.size;
        if (total > limits.maxUploadBytes) throw tooLarge(`the folder ${label}`, total, limits, label);
      }
      // Sockets, FIFOs and devices are never read.
    }
  }
  // Read every file once for the digest; the bytes are kept until the decoder asks for them.
  found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  progress.start("reading", found.length);
  const hash = createHash("sha256").update("files\0");
  const files: SourceFile[] = [];
  for (let i = 0; i < found.length; i++) {
    const f = found[i]!;
    let cached: Uint8Array | undefined = readFileNoFollow(f.full, f.rel);
    hashFile(hash, f.rel, cached);
    files.push({
      path: f.rel,
      size: cached.length,
      read: () => {
        const bytes = cached ?? readFileNoFollow(f.full, f.rel);
        cached = undefined;
        return bytes;
      },
    });
    await progress.step(i + 1);
  }
  progress.finish();
  return sortedTree("folder", label, files, hash.digest("hex"));
}

/** The partner's name of an IDX file: images ↔ labels (`train-images-idx3-ubyte` ↔ `train-labels-idx1-ubyte`). */
export function idxPartnerName(name: string): string | undefined {
  if (IDX_IMAGES.test(name)) return name.replace(/images([-._]?idx)3(-ubyte)/i, "labels$11$2");
  if (IDX_LABELS.test(name)) return name.replace(/labels([-._]?idx)1(-ubyte)/i, "images$13$2");
  return undefined;
}

/** An IDX file and its partner beside it (same name with images ↔ labels, gzipped or not). */
async function openIdxPair(full: string, limits: ImportLimits, progress: ProgressReporter): Promise<SourceTree> {
  const dir = path.dirname(full);
  const name = path.basename(full);
  const partner = idxPartnerName(name);
  const candidates = partner === undefined || partner === name ? [] : [partner, partner.endsWith(".gz") ? partner.slice(0, -3) : `${partner}.gz`];
  const found = candidates.find((c) => {
    try {
      return lstatSync(path.join(dir, c)).isFile() || lstatSync(path.join(dir, c)).isSymbolicLink();
    } catch {
      return false;
    }
  });
  if (found === undefined) {
    const want = IDX_IMAGES.test(name) ? "labels" : "images";
    throw new DatasetError(
      "missing_file",
      `an IDX ${want === "labels" ? "images" : "labels"} file needs its ${want} file beside it: ` +
        (candidates.length > 0 ? `looked for ${candidates.join(" and ")} in the same folder` : `name them …-images-idx3-ubyte and …-labels-idx1-ubyte`),
      { file: name },
    );
  }
  progress.start("reading", 2);
  const files: Array<{ name: string; bytes: Uint8Array }> = [];
  let total = 0;
  for (const n of [name, found]) {
    const p = path.join(dir, n);
    if (lstatSync(p).isSymbolicLink()) throw new DatasetError("symlink", "is a symbolic link; links are not allowed in data sets", { file: n });
    const bytes = readFileNoFollow(p, n);
    total += bytes.length;
    if (total > limits.maxUploadBytes) throw tooLarge(`the IDX pair ${name} and ${found}`, total, limits, n);
    files.push({ name: n, bytes });
    await progress.step(files.length);
  }
  progress.finish();
  return bytesTree("file", name, files);
}

/** A tree over files held in memory (an upload, an IDX pair). */
function bytesTree(kind: SourceTree["kind"], label: string, files: Array<{ name: string; bytes: Uint8Array }>): SourceTree {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const hash = createHash("sha256").update("files\0");
  for (const f of sorted) hashFile(hash, f.name, f.bytes);
  return sortedTree(
    kind,
    label,
    sorted.map((f) => ({ path: f.name, size: f.bytes.length, read: () => f.bytes })),
    hash.digest("hex"),
  );
}

/**
 * Where an image path written in a CSV points inside a tree: `\` read as `/`, relative to the CSV's folder,
 * normalised. `outside` is true when it leaves the tree's root (a `..` past the top, or an absolute path).
 */
export function resolveCsvPath(csvPath: string, written: string): { key: string; outside: boolean } {
  const slashed = written.replace(/\\/g, "/");
  if (slashed.startsWith("/") || /^[A-Za-z]:\//.test(slashed)) return { key: path.posix.normalize(slashed), outside: true };
  const csvDir = path.posix.dirname(csvPath);
  const key = path.posix.normalize(path.posix.join(csvDir === "." ? "" : csvDir, slashed));
  return { key, outside: key === ".." || key.startsWith("../") };
}

/**
 * An NNC CSV on disk and the images it names (relative to the CSV's folder; absolute paths and `..` are
 * allowed, as NNC allows them). Images that do not exist are left out: the CSV format reports them with their
 * row. The digest covers the CSV and every image it names.
 */
async function openCsvOnDisk(full: string, limits: ImportLimits, progress: ProgressReporter): Promise<SourceTree> {
  const label = path.basename(full);
  const csvBytes = readFileNoFollow(full, label);
  const files: Array<{ name: string; bytes: Uint8Array }> = [{ name: label, bytes: csvBytes }];
  const records = parseCsv(new TextDecoder().decode(csvBytes), label);
  const header = records[0];
  const col = header ? findCsvColumn(header.fields, "x") : -1;
  const keys = new Map<string, number>(); // key → CSV line, in order
  if (col >= 0) {
    for (const rec of records.slice(1)) {
      const written = rec.fields[col];
      if (written === undefined || written === "") continue;
      const { key } = resolveCsvPath(label, written);
      if (!keys.has(key) && key !== label) keys.set(key, rec.line);
    }
  }
  if (keys.size + 1 > limits.maxFiles) {
    throw new DatasetError("too_many_files", `names ${keys.size} images, more than the ${limits.maxFiles} files an import may hold`, { file: label });
  }
  progress.start("reading", keys.size);
  const baseDir = path.dirname(full);
  let total = csvBytes.length;
  let done = 0;
  for (const [key, line] of keys) {
    const p = path.isAbsolute(key) ? key : path.join(baseDir, key);
    let st: Stats | undefined;
    try {
      st = lstatSync(p);
    } catch {
      st = undefined; // reported as missing_image, with its row, by the CSV reader
    }
    if (st?.isSymbolicLink()) {
      throw new DatasetError("symlink", `the image named on line ${line} of ${label} is a symbolic link; links are not allowed in data sets`, {
        file: key,
        row: line,
      });
    }
    if (st?.isFile()) {
      total += st.size;
      if (total > limits.maxUploadBytes) throw tooLarge(`${label} and its images`, total, limits, label);
      files.push({ name: key, bytes: readFileNoFollow(p, key) });
    }
    await progress.step(++done);
  }
  progress.finish();
  const tree = bytesTree("file", label, files);
  tree.allowOutside = true;
  return tree;
}

/**
 * Uploaded files as a source: a single zip is opened as an archive; otherwise the files form a tree under their
 * names (checked like zip entry names: no absolute paths, drive letters, `..` or NUL). Throws 'too_large',
 * 'too_many_files', 'unsafe_path', 'unsupported_format' (nothing uploaded, two files with one name), and the
 * zip reader's errors.
 */
export function openUploadSource(uploaded: UploadedFile[], limits: ImportLimits): SourceTree {
  if (uploaded.length === 0) throw new DatasetError("unsupported_format", "nothing was uploaded: expected a .zip or an IDX images and labels pair");
  if (uploaded.length > limits.maxFiles) {
    throw new DatasetError("too_many_files", `${uploaded.length} files were uploaded, more than the ${limits.maxFiles} an import may hold`);
  }
  const total = uploaded.reduce((a, f) => a + f.bytes.length, 0);
  const label =
    uploaded.length === 1
      ? baseName(uploaded[0]!.name)
      : uploaded.length === 2
        ? uploaded.map((f) => baseName(f.name)).join(" + ")
        : `${uploaded.length} files`;
  if (total > limits.maxUploadBytes) throw tooLarge(uploaded.length === 1 ? label : "the upload", total, limits);
  if (uploaded.length === 1 && isZipName(uploaded[0]!.name, uploaded[0]!.bytes)) return zipTree(uploaded[0]!.bytes, label, limits);
  const files: Array<{ name: string; bytes: Uint8Array }> = [];
  const seen = new Set<string>();
  for (const f of uploaded) {
    const name = safeRelativePath(f.name, "an upload");
    if (name === "" || isIgnoredPath(name)) continue;
    if (seen.has(name)) throw new DatasetError("unsupported_format", "two uploaded files have this name", { file: name });
    seen.add(name);
    files.push({ name, bytes: f.bytes });
  }
  return bytesTree("upload", label, files);
}

/** The last segment of a name, either separator. */
function baseName(name: string): string {
  return name.replace(/\\/g, "/").split("/").filter(Boolean).pop() ?? name;
}
