/**
 * Our own small zip reader, for data sets uploaded as one .zip. It reads an archive held in memory
 * (a Uint8Array), trusts nothing in it, and only ever throws {@link DatasetError}s.
 *
 * What it reads (PKWARE APPNOTE 6.3): the End of Central Directory record (and the ZIP64 locator and record
 * when present), every central directory entry (ZIP64 extra fields for sizes and offsets; names as UTF-8 when
 * flag bit 11 says so or the Info-ZIP Unicode Path extra field is valid, else UTF-8 when the bytes are valid
 * UTF-8 with non-ASCII characters, as macOS and many tools write them without the flag, else CP437), the
 * local header of each file to find its data, and the data: method 0 (stored) or 8 (deflate) only.
 *
 * What it refuses:
 * - malformed structure, encryption, other compression methods, duplicate names, overlapping entries,
 *   CRC-32 mismatches: 'bad_archive' (overlapping entries, the "overlapped" zip bomb, are 'zip_bomb');
 * - names that could escape a folder (absolute, a drive letter, a `..` segment after reading `\` as `/`,
 *   a NUL byte): 'unsafe_path' naming the entry; symbolic links (unix mode S_IFLNK in the external
 *   attributes' high 16 bits): 'symlink';
 * - more entries than `maxEntries`: 'too_many_files'; an entry or all entries together larger, once
 *   decompressed, than `maxEntryBytes` / `maxTotalBytes`: 'too_large'; an entry whose declared
 *   decompressed size is more than `maxRatio` times its compressed size (entries above 64 KiB), or whose data
 *   inflates to more than its header declares: 'zip_bomb'. Inflation is capped at the declared size
 *   (zlib's `maxOutputLength`), so a lying header can never make it allocate more than the limits allow.
 *
 * Directory entries are skipped; entries under `__MACOSX/` and dot-files or dot-folders (`.DS_Store`) are
 * listed as ignored and never read. Multi-disk (split) archives are not supported.
 *
 * Node-only (zlib).
 */
import { crc32, inflateRawSync } from "node:zlib";
import { DatasetError } from "./dataset";

export interface ZipLimits {
  /** Entries in the central directory, directories included. */
  maxEntries: number;
  /** Decompressed bytes of one entry. */
  maxEntryBytes: number;
  /** Decompressed bytes of all file entries together (ignored entries excluded). */
  maxTotalBytes: number;
  /** Largest decompressed/compressed size ratio of one entry above {@link RATIO_FLOOR} bytes. */
  maxRatio: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 200_000,
  maxEntryBytes: 64 * 2 ** 20,
  maxTotalBytes: 2 * 2 ** 30,
  maxRatio: 1000,
};

/** Entries whose decompressed size is at most this are not ratio-checked: they cannot be bombs. */
export const RATIO_FLOOR = 64 * 1024;

/** One entry of the central directory. */
export interface ZipEntry {
  /** The name normalised: `/` separators, no empty or `.` segments, no trailing `/`. */
  name: string;
  /** The name as stored (decoded), for messages. */
  rawName: string;
  /** 0 stored, 8 deflate (other methods are refused when the entry is read). */
  method: number;
  /** General purpose bit flags. */
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** External file attributes; the high 16 bits hold the unix mode when the archive was made on unix. */
  externalAttributes: number;
  /** Offset of the entry's local header. */
  localHeaderOffset: number;
  isDirectory: boolean;
  /** Under `__MACOSX/`, or a dot-file / dot-folder: never read, not part of the data set. */
  ignored: boolean;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const FLAG_UTF8 = 0x0800;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const DOS_DIRECTORY = 0x10;

const METHOD_NAMES: Record<number, string> = {
  1: "shrink",
  6: "implode",
  9: "deflate64",
  12: "bzip2",
  14: "LZMA",
  93: "zstd",
  95: "xz",
  98: "PPMd",
  99: "AES encryption",
};

/** Code page 437 (the original IBM PC set), bytes 0x80–0xFF: zip's default name encoding. */
const CP437_HIGH = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀" + "αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

function decodeCp437(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80]!;
  return s;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 text, or undefined when the bytes are not valid UTF-8. */
function tryUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Checks a path from an untrusted source (a zip entry name, an uploaded file name) and normalises it:
 * `\` read as `/`, empty and `.` segments dropped. Throws DatasetError 'unsafe_path' (file = the name as
 * given) for a NUL byte, an absolute path, a drive letter or a `..` segment. `where` names the source in
 * the message (e.g. "mnist.zip"). Returns "" for a name that is only separators and dots (a root folder).
 */
/** Names that need the slow path: a `\`, a NUL, a leading `/`, a drive letter, `//`, or a `.`/`..` segment. */
const NOT_PLAIN = /[\\\0]|^\/|^[A-Za-z]:|\/\/|(^|\/)\.\.?(\/|$)/;

export function safeRelativePath(name: string, where: string): string {
  if (!NOT_PLAIN.test(name)) return name.endsWith("/") ? name.slice(0, -1) : name; // the common case, as is
  const unsafe = (why: string) => new DatasetError("unsafe_path", `${why}; ${where} may only hold relative paths inside it`, { file: name });
  if (name.includes("\0")) throw unsafe("the name holds a NUL byte");
  const slashed = name.replace(/\\/g, "/");
  if (slashed.startsWith("/")) throw unsafe("the path is absolute");
  if (/^[A-Za-z]:/.test(slashed)) throw unsafe("the path starts with a drive letter");
  const segments = slashed.split("/");
  if (segments.includes("..")) throw unsafe("the path has a '..' segment that could escape the folder");
  return segments.filter((s) => s !== "" && s !== ".").join("/");
}

/** True for paths a data set never holds: anything under `__MACOSX/`, dot-files and dot-folders. */
export function isIgnoredPath(path: string): boolean {
  if (!path.startsWith(".") && !path.includes("/.") && !path.includes("__MACOSX")) return false;
  return path.split("/").some((s) => s === "__MACOSX" || s.startsWith("."));
}

/** A zip archive read from memory; see the module comment for what it checks. */
export class ZipArchive {
  /** Every central directory entry, in directory order. */
  readonly entries: readonly ZipEntry[];
  /** The entries a data set may use: not directories, not ignored; sorted by name. */
  readonly files: readonly ZipEntry[];
  private readonly byName: Map<string, ZipEntry>;
  private readonly dataOffsets = new Map<ZipEntry, number>();

  private constructor(
    private readonly bytes: Uint8Array,
    /** The archive's name in messages. */
    readonly label: string,
    entries: ZipEntry[],
  ) {
    this.entries = entries;
    this.files = entries.filter((e) => !e.isDirectory && !e.ignored).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.byName = new Map(this.files.map((e) => [e.name, e]));
  }

  /**
   * Reads the central directory of `bytes` and checks every entry (names, links, methods, sizes, limits) and
   * the local headers of the files. `label` names the archive in errors. Nothing is decompressed yet.
   */
  static open(bytes: Uint8Array, label: string, limits: Partial<ZipLimits> = {}): ZipArchive {
    const lim = { ...DEFAULT_ZIP_LIMITS, ...limits };
    const r = new Reader(bytes, label);
    const dir = readEndOfCentralDirectory(r, lim);
    const entries: ZipEntry[] = [];
    let pos = dir.offset;
    const end = dir.offset + dir.size;
    for (let i = 0; i < dir.count; i++) {
      const entry = readCentralEntry(r, pos, end);
      entries.push(entry.entry);
      pos = entry.next;
    }
    const archive = new ZipArchive(bytes, label, entries);
    archive.check(r, lim, dir.offset);
    return archive;
  }

  /** The file entry with this normalised name, if any (directories and ignored entries are not found). */
  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** Limits, methods, duplicates, local headers and overlaps; fills dataOffsets. */
  private check(r: Reader, lim: ZipLimits, centralOffset: number): void {
    const seen = new Set<string>();
    let total = 0;
    const ranges: Array<[number, number, ZipEntry]> = [];
    for (const e of this.entries) {
      if (e.isDirectory || e.ignored) continue;
      const at = { file: e.rawName };
      if (e.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) || e.method === 99) {
        throw new DatasetError("bad_archive", `entry is encrypted in ${this.label}; encrypted archives are not supported`, at);
      }
      if (e.method !== 0 && e.method !== 8) {
        const what = METHOD_NAMES[e.method] ? ` (${METHOD_NAMES[e.method]})` : "";
        throw new DatasetError("bad_archive", `compression method ${e.method}${what} in ${this.label} is not supported: only stored (0) and deflate (8)`, at);
      }
      if (seen.has(e.name)) throw new DatasetError("bad_archive", `the name appears twice in ${this.label}`, at);
      seen.add(e.name);
      if (e.uncompressedSize > lim.maxEntryBytes) {
        throw new DatasetError(
          "too_large",
          `entry of ${this.label} decompresses to ${formatBytes(e.uncompressedSize)}, more than the ${formatBytes(lim.maxEntryBytes)} allowed per file`,
          at,
        );
      }
      total += e.uncompressedSize;
      if (total > lim.maxTotalBytes) {
        throw new DatasetError("too_large", `the files of ${this.label} decompress to more than the ${formatBytes(lim.maxTotalBytes)} allowed in all`, at);
      }
      if (e.method === 0 && e.compressedSize !== e.uncompressedSize) {
        throw new DatasetError(
          "bad_archive",
          `stored entry of ${this.label} declares ${e.compressedSize} stored bytes but ${e.uncompressedSize} bytes of content`,
          at,
        );
      }
      if (e.method === 8 && e.uncompressedSize > 0 && e.compressedSize === 0) {
        throw new DatasetError("bad_archive", `deflated entry of ${this.label} has no compressed data`, at);
      }
      if (e.uncompressedSize > RATIO_FLOOR && e.uncompressedSize > e.compressedSize * lim.maxRatio) {
        throw new DatasetError(
          "zip_bomb",
          `entry of ${this.label} claims to expand ${Math.round(e.uncompressedSize / e.compressedSize)}-fold ` +
            `(${formatBytes(e.compressedSize)} to ${formatBytes(e.uncompressedSize)}), more than the ${lim.maxRatio}-fold allowed`,
          at,
        );
      }
      // The local header: where the data starts. It must lie before the central directory.
      const h = e.localHeaderOffset;
      if (h + LOCAL_SIZE > centralOffset || r.u32(h) !== SIG_LOCAL) {
        throw new DatasetError("bad_archive", `no local header at offset ${h} in ${this.label}`, at);
      }
      const dataStart = h + LOCAL_SIZE + r.u16(h + 26) + r.u16(h + 28);
      const dataEnd = dataStart + e.compressedSize;
      if (dataEnd > centralOffset) {
        throw new DatasetError("bad_archive", `entry data runs past the end of the file data in ${this.label} (truncated?)`, at);
      }
      this.dataOffsets.set(e, dataStart);
      ranges.push([h, dataEnd, e]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) {
      if (ranges[i]![0] < ranges[i - 1]![1]) {
        throw new DatasetError(
          "zip_bomb",
          `entries ${ranges[i - 1]![2].rawName} and ${ranges[i]![2].rawName} of ${this.label} overlap (a known zip-bomb construction)`,
          { file: ranges[i]![2].rawName },
        );
      }
    }
  }

  /**
   * The decompressed bytes of a file entry (a view into the archive for stored entries). Throws 'zip_bomb'
   * when the data inflates past its declared size, 'bad_archive' for corrupt deflate data, a size or a
   * CRC-32 that does not match the header.
   */
  read(entry: ZipEntry): Uint8Array {
    const start = this.dataOffsets.get(entry);
    if (start === undefined) throw new DatasetError("bad_archive", `not a readable file of ${this.label}`, { file: entry.rawName });
    const at = { file: entry.rawName };
    const raw = this.bytes.subarray(start, start + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      data = raw;
    } else {
      try {
        const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
        data = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
          throw new DatasetError("zip_bomb", `entry of ${this.label} inflates to more than the ${entry.uncompressedSize} bytes its header declares`, at);
        }
        throw new DatasetError("bad_archive", `corrupt deflate data in ${this.label} (${err.message})`, at);
      }
      if (data.length > entry.uncompressedSize) {
        throw new DatasetError("zip_bomb", `entry of ${this.label} inflates to more than the ${entry.uncompressedSize} bytes its header declares`, at);
      }
    }
    if (data.length !== entry.uncompressedSize) {
      throw new DatasetError(
        "bad_archive",
        `entry of ${this.label} holds ${data.length} bytes, its header declares ${entry.uncompressedSize} (truncated?)`,
        at,
      );
    }
    if (crc32(data) >>> 0 !== entry.crc32) {
      throw new DatasetError("bad_archive", `CRC-32 mismatch in ${this.label}: the entry is corrupt`, at);
    }
    return data;
  }
}

/** Bounds-checked little-endian reads; anything out of range is a 'bad_archive' naming the archive. */
class Reader {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly label: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  need(offset: number, length: number, what: string): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.bytes.length)) {
      throw new DatasetError("bad_archive", `${this.label} is truncated or corrupt: ${what} lies outside the file`, { file: this.label });
    }
  }

  u16(offset: number): number {
    this.need(offset, 2, `a field at offset ${offset}`);
    return this.view.getUint16(offset, true);
  }

  u32(offset: number): number {
    this.need(offset, 4, `a field at offset ${offset}`);
    return this.view.getUint32(offset, true);
  }

  /** A 64-bit field as a number; above 2^53 it cannot be a real size or offset here. */
  u64(offset: number): number {
    this.need(offset, 8, `a field at offset ${offset}`);
    const v = this.view.getBigUint64(offset, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new DatasetError("bad_archive", `${this.label} has an impossible 64-bit size or offset (${v})`, { file: this.label });
    }
    return Number(v);
  }
}

/** Where the central directory is and how many entries it holds. */
function readEndOfCentralDirectory(r: Reader, lim: ZipLimits): { offset: number; size: number; count: number } {
  const bad = (why: string) => new DatasetError("bad_archive", `${r.label} is not a readable zip archive: ${why}`, { file: r.label });
  // The record is 22 bytes plus a comment of up to 65535 bytes, at the very end.
  let eocd = -1;
  const lowest = Math.max(0, r.length - EOCD_SIZE - 0xffff);
  for (let p = r.length - EOCD_SIZE; p >= lowest; p--) {
    if (r.bytes[p] === 0x50 && r.u32(p) === SIG_EOCD && p + EOCD_SIZE + r.u16(p + 20) <= r.length) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw bad("no end of central directory record (not a zip file, or truncated)");
  let disk = r.u16(eocd + 4);
  let centralDisk = r.u16(eocd + 6);
  let onDisk = r.u16(eocd + 8);
  let count = r.u16(eocd + 10);
  let size = r.u32(eocd + 12);
  let offset = r.u32(eocd + 16);
  let end = eocd; // the central directory must end before this
  if (eocd >= 20 && r.u32(eocd - 20) === SIG_ZIP64_LOCATOR) {
    const at = r.u64(eocd - 20 + 8);
    if (at + 56 > eocd - 20 || r.u32(at) !== SIG_ZIP64_EOCD) throw bad("the ZIP64 end of central directory record is missing");
    disk = r.u32(at + 16);
    centralDisk = r.u32(at + 20);
    onDisk = r.u64(at + 24);
    count = r.u64(at + 32);
    size = r.u64(at + 40);
    offset = r.u64(at + 48);
    end = at;
  }
  if (disk !== 0 || centralDisk !== 0 || onDisk !== count) throw bad("split (multi-disk) archives are not supported");
  if (count > lim.maxEntries) {
    throw new DatasetError("too_many_files", `${r.label} holds ${count} entries, more than the ${lim.maxEntries} allowed`, { file: r.label });
  }
  if (offset + size > end) throw bad("the central directory lies outside the file (truncated?)");
  if (count * CENTRAL_SIZE > size) throw bad(`the central directory is too small for ${count} entries`);
  return { offset, size, count };
}

function corrupt(r: Reader, why: string): DatasetError {
  return new DatasetError("bad_archive", `${r.label} is corrupt: ${why}`, { file: r.label });
}

/** One central directory entry at `pos` (which must end before `end`); its checks on names and links. */
function readCentralEntry(r: Reader, pos: number, end: number): { entry: ZipEntry; next: number } {
  if (pos + CENTRAL_SIZE > end || r.u32(pos) !== SIG_CENTRAL) throw corrupt(r, `no central directory entry at offset ${pos}`);
  const flags = r.u16(pos + 8);
  const method = r.u16(pos + 10);
  const crc = r.u32(pos + 16);
  let compressedSize = r.u32(pos + 20);
  let uncompressedSize = r.u32(pos + 24);
  const nameLen = r.u16(pos + 28);
  const extraLen = r.u16(pos + 30);
  const commentLen = r.u16(pos + 32);
  let disk = r.u16(pos + 34);
  const externalAttributes = r.u32(pos + 38);
  let localHeaderOffset = r.u32(pos + 42);
  const next = pos + CENTRAL_SIZE + nameLen + extraLen + commentLen;
  if (next > end) throw corrupt(r, `the central directory entry at offset ${pos} runs past the directory`);
  const nameBytes = r.bytes.subarray(pos + CENTRAL_SIZE, pos + CENTRAL_SIZE + nameLen);

  // Extra fields: ZIP64 sizes and offsets (0x0001), the Info-ZIP Unicode path (0x7075).
  let unicodeName: string | undefined;
  let p = pos + CENTRAL_SIZE + nameLen;
  const extraEnd = p + extraLen;
  while (p + 4 <= extraEnd) {
    const id = r.u16(p);
    const len = r.u16(p + 2);
    const data = p + 4;
    if (data + len > extraEnd) throw corrupt(r, `an extra field of the entry at offset ${pos} runs past its end`);
    if (id === 0x0001) {
      // The 64-bit values of the fields that hold 0xffffffff, in this order; then the disk number.
      let q = data;
      const want =
        (uncompressedSize === 0xffffffff ? 8 : 0) +
        (compressedSize === 0xffffffff ? 8 : 0) +
        (localHeaderOffset === 0xffffffff ? 8 : 0) +
        (disk === 0xffff ? 4 : 0);
      if (want > len) throw corrupt(r, `the ZIP64 extra field of the entry at offset ${pos} is too short`);
      if (uncompressedSize === 0xffffffff) {
        uncompressedSize = r.u64(q);
        q += 8;
      }
      if (compressedSize === 0xffffffff) {
        compressedSize = r.u64(q);
        q += 8;
      }
      if (localHeaderOffset === 0xffffffff) {
        localHeaderOffset = r.u64(q);
        q += 8;
      }
      if (disk === 0xffff) disk = r.u32(q);
    } else if (id === 0x7075 && len >= 5 && r.bytes[data] === 1 && r.u32(data + 1) === crc32(nameBytes) >>> 0) {
      unicodeName = tryUtf8(r.bytes.subarray(data + 5, data + len));
    }
    p = data + len;
  }
  if (disk !== 0) throw corrupt(r, "split (multi-disk) archives are not supported");
  // A 0xffffffff size left without a ZIP64 extra field stays as it is: the size limits refuse it.

  let rawName: string;
  if (flags & FLAG_UTF8) {
    const s = tryUtf8(nameBytes);
    if (s === undefined) throw corrupt(r, `the entry name at offset ${pos} is flagged UTF-8 but is not valid UTF-8`);
    rawName = s;
  } else if (unicodeName !== undefined) {
    rawName = unicodeName;
  } else {
    let ascii = true;
    for (let i = 0; i < nameBytes.length; i++) {
      if (nameBytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    rawName = ascii ? utf8.decode(nameBytes) : (tryUtf8(nameBytes) ?? decodeCp437(nameBytes));
  }
  if (rawName === "") throw corrupt(r, `the entry at offset ${pos} has an empty name`);
  const name = safeRelativePath(rawName, r.label);
  const mode = externalAttributes >>> 16;
  if ((mode & S_IFMT) === S_IFLNK) {
    throw new DatasetError("symlink", `entry of ${r.label} is a symbolic link; links are not allowed in data sets`, { file: rawName });
  }
  const isDirectory =
    rawName.endsWith("/") || rawName.endsWith("\\") || name === "" || (mode & S_IFMT) === S_IFDIR || (externalAttributes & DOS_DIRECTORY) !== 0;
  return {
    entry: {
      name,
      rawName,
      method,
      flags,
      crc32: crc,
      compressedSize,
      uncompressedSize,
      externalAttributes,
      localHeaderOffset,
      isDirectory,
      ignored: isIgnoredPath(name),
    },
    next,
  };
}

/** Bytes for messages: "512 MiB", "1.5 GiB", "300 KiB", "12 bytes". */
export function formatBytes(n: number): string {
  const units: Array<[number, string]> = [
    [2 ** 30, "GiB"],
    [2 ** 20, "MiB"],
    [2 ** 10, "KiB"],
  ];
  for (const [size, unit] of units) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
    }
  }
  return `${n} bytes`;
}
