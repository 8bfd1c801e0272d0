/**
 * Fuzzing the importer's parsers with seeded, generated malformed inputs: parseCsv and the CSV importer, the
 * zip reader and the zip importer. Every input must either import or throw a DatasetError with a known code:
 * never a RangeError or TypeError, never a hang. A failure names its case's seed, so it replays exactly.
 */
import { describe, expect, it } from "vitest";
import { DatasetError, type DatasetErrorCode } from "../../lib/gan/data/dataset";
import { decodeSource, ProgressReporter, resolveLimits, type ImportLimits } from "../../lib/gan/data/import";
import { openUploadSource } from "../../lib/gan/data/import-sources";
import { parseCsv } from "../../lib/gan/data/nnc-csv";
import { ZipArchive } from "../../lib/gan/data/zip";
import { encodePng } from "../../lib/gan/image";
import { Rng } from "../../lib/gan/rng";
import { makeZip, type ZipFixtureEntry } from "../helpers/zip-writer";

const KNOWN: ReadonlySet<DatasetErrorCode> = new Set<DatasetErrorCode>([
  "missing_file",
  "bad_format",
  "wrong_image_size",
  "mixed_sizes",
  "label_out_of_range",
  "label_not_integer",
  "undecodable_image",
  "empty_class",
  "too_few_images",
  "missing_image",
  "bad_archive",
  "unsupported_format",
  "image_too_large",
  "too_few_labels",
  "too_large",
  "too_many_files",
  "zip_bomb",
  "unsafe_path",
  "symlink",
  "aborted",
]);

/** Small limits, so that "huge declared sizes" hit a limit fast and a real decode stays tiny. */
const LIMITS: ImportLimits = resolveLimits({ minImages: 4, maxEntryBytes: 2 ** 20, maxTotalBytes: 4 * 2 ** 20, maxDecodedBytes: 2 ** 20, maxFiles: 500 });

/** Runs one case; returns a failure description, or null when it imported or threw a known DatasetError. */
async function attempt(label: string, fn: () => unknown): Promise<string | null> {
  try {
    await fn();
    return null;
  } catch (e) {
    if (e instanceof DatasetError && KNOWN.has(e.code)) return null;
    return `${label}: ${(e as Error)?.constructor?.name} ${(e as Error)?.message}`;
  }
}

/** Runs `count` seeded cases (Rng(base + seed), seed 1..count), each built by `build` and then attempted; expects no failures. */
async function fuzz(count: number, base: number, label: string, build: (rng: Rng) => () => unknown): Promise<void> {
  const failures: string[] = [];
  for (let seed = 1; seed <= count; seed++) {
    const f = await attempt(`${label} seed ${seed}`, build(new Rng(base + seed)));
    if (f) failures.push(f);
  }
  expect(failures).toEqual([]);
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)]!;

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

/** A copy of `bytes` with one of: a truncation, bit flips, a random run, a spliced duplicate, or nothing. */
function mutate(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  switch (rng.int(5)) {
    case 0:
      return out.subarray(0, rng.int(out.length + 1));
    case 1: {
      const flips = 1 + rng.int(8);
      for (let k = 0; k < flips; k++) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return out;
    }
    case 2: {
      const at = rng.int(out.length);
      out.set(randomBytes(rng, Math.min(out.length - at, 1 + rng.int(32))), at);
      return out;
    }
    case 3: {
      const a = rng.int(out.length);
      const b = rng.int(out.length);
      return new Uint8Array([...out.subarray(0, a), ...out.subarray(b)]);
    }
    default:
      return out;
  }
}

const SIGNATURES: Array<[number, number]> = [
  [0x04034b50, 30], // local header
  [0x02014b50, 46], // central directory entry
  [0x06054b50, 22], // end of central directory
  [0x06064b50, 56], // ZIP64 end record
  [0x07064b50, 20], // ZIP64 locator
];

/** Overwrites one field of one zip record (found by its signature) with an extreme or random value. */
function mutateHeader(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  const view = new DataView(out.buffer);
  const records: Array<[number, number]> = [];
  for (let p = 0; p + 4 <= out.length; p++) {
    if (out[p] !== 0x50 || out[p + 1] !== 0x4b) continue;
    const sig = view.getUint32(p, true);
    const rec = SIGNATURES.find(([s]) => s === sig);
    if (rec) records.push([p, rec[1]]);
  }
  if (records.length === 0) return out;
  const [at, size] = pick(rng, records);
  const width = pick(rng, [1, 2, 4, 8] as const);
  const offset = at + 4 + rng.int(Math.max(1, size - 4 - width + 1));
  if (offset + width > out.length) return out;
  const value = pick(rng, [0, 1, 0xff, 0xffff, 0xffffffff, 0x7fffffff, out.length, rng.int(2 ** 31), 2 ** 31 + rng.int(2 ** 31)]);
  if (width === 1) view.setUint8(offset, value & 0xff);
  else if (width === 2) view.setUint16(offset, value & 0xffff, true);
  else if (width === 4) view.setUint32(offset, value >>> 0, true);
  else view.setBigUint64(offset, rng.int(2) ? 0xffffffffffffffffn : BigInt(value) * BigInt(1 + rng.int(2 ** 20)), true);
  return out;
}

const png = (v: number, side = 4) => encodePng({ width: side, height: side, channels: 1, data: new Uint8Array(side * side).fill(v) });

/** A small valid data set zip: folders or an NNC CSV, stored or deflated, ZIP64 or not. */
function baseZip(rng: Rng): { entries: ZipFixtureEntry[]; zip64: boolean } {
  const method = pick(rng, [0, 8] as const);
  const entries: ZipFixtureEntry[] = [];
  const n = 6 + rng.int(6);
  const csv = rng.int(2) === 0;
  const lines = ["x:image,y:label"];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const name = csv ? `imgs/${i}.png` : `set/${label}/${i}.png`;
    entries.push({ name, data: png(i * 20), method });
    lines.push(`${name.replace("imgs/", "./imgs/")},${label}`);
  }
  if (csv) entries.push({ name: "data.csv", data: `${lines.join("\n")}\n`, method });
  if (rng.int(4) === 0) entries.push({ name: "set/", directory: true });
  return { entries, zip64: rng.int(3) === 0 };
}

/** Imports uploaded bytes in memory (no store): source, layout, decode. */
async function importBytes(files: Array<{ name: string; bytes: Uint8Array }>): Promise<void> {
  const tree = openUploadSource(files, LIMITS);
  await decodeSource(tree, { limits: LIMITS, progress: new ProgressReporter(), resize: "reject" });
}

/** A malformed CSV: bad quotes, odd fields, labels, deep or escaping paths, NULs, huge numbers, random text. */
function fuzzCsv(rng: Rng, n: number): string {
  const path = (): string => {
    switch (rng.int(9)) {
      case 0:
        return `${Array.from({ length: 1 + rng.int(200) }, () => "d").join("/")}/x.png`;
      case 1:
        return `${"../".repeat(1 + rng.int(5))}etc/passwd`;
      case 2:
        return pick(rng, ["/abs/x.png", "C:\\data\\x.png", "\\\\server\\share\\x.png", "imgs/\0.png", ""]);
      case 3:
        return `imgs\\${rng.int(n)}.png`;
      case 4:
        return `"imgs/${rng.int(n)}.png`; // an unclosed quote
      case 5:
        return `"imgs/${rng.int(n)}"".png"`;
      default:
        return `./imgs/${rng.int(n + 2)}.png`;
    }
  };
  const label = (): string => pick(rng, [String(rng.int(3)), "-1", "1e3", "99999999999999999999999", " 1 ", "x", "", "0x1", "+1", "1.0", '"1"', "1000"]);
  const header =
    rng.int(4) === 0 ? pick(rng, ["y:label,x:image", "x,y", "image,label", "x:image", "", '"x:image","y:label"', "x:image,y:label,z"]) : "x:image,y:label";
  const swapped = header.startsWith("y");
  // Each row is valid unless chosen for damage, with a per-text rate from none to most rows.
  const damage = pick(rng, [0, 0, 0.05, 0.2, 0.7]);
  const rows = [header];
  for (let i = 0; i < n + rng.int(4); i++) {
    const bad = rng.next() < damage;
    const fields = bad ? [path(), label()] : [`imgs/${i % n}.png`, String(i % 2)];
    if (swapped) fields.reverse();
    if (bad && rng.int(4) === 0) fields.push(String.fromCharCode(...randomBytes(rng, rng.int(12))));
    if (bad && rng.int(6) === 0) fields.pop();
    rows.push(fields.join(bad ? pick(rng, [",", ",", ";", ", "]) : ","));
  }
  return rows.join(pick(rng, ["\n", "\r\n", "\r", "\n\n"]));
}

describe("fuzz", () => {
  it("parseCsv: 1,500 generated malformed texts parse or throw bad_format", async () => {
    await fuzz(1500, 0, "parseCsv", (rng) => {
      const text = rng.int(3) === 0 ? new TextDecoder().decode(randomBytes(rng, rng.int(400))) : fuzzCsv(rng, 1 + rng.int(20));
      return () => parseCsv(text, "f.csv");
    });
  });

  it("the CSV importer: 600 generated CSVs in a zip import or throw a known DatasetError", async () => {
    const images = Array.from({ length: 12 }, (_, i) => ({ name: `imgs/${i}.png`, data: png(i * 20) }));
    await fuzz(600, 10_000, "csv import", (rng) => {
      const csv = fuzzCsv(rng, 12);
      const zip = makeZip([...images, { name: pick(rng, ["data.csv", "sub/data.csv"]), data: csv }]);
      return () => importBytes([{ name: "set.zip", bytes: zip }]);
    });
  });

  it("the zip reader: 2,000 mutated archives open and read, or throw a known DatasetError", async () => {
    await fuzz(2000, 20_000, "zip", (rng) => {
      const { entries, zip64 } = baseZip(rng);
      let bytes = makeZip(entries, { zip64, comment: rng.int(4) === 0 ? "a comment" : "" });
      const how = rng.int(4);
      if (how === 0) bytes = mutate(rng, bytes);
      else if (how === 1) bytes = mutateHeader(rng, bytes);
      else if (how === 2) bytes = mutateHeader(rng, mutateHeader(rng, mutate(rng, bytes)));
      else bytes = rng.int(4) === 0 ? randomBytes(rng, rng.int(300)) : mutateHeader(rng, bytes);
      return () => {
        const z = ZipArchive.open(bytes, "f.zip", {
          maxEntries: LIMITS.maxFiles,
          maxEntryBytes: LIMITS.maxEntryBytes,
          maxTotalBytes: LIMITS.maxTotalBytes,
          maxRatio: 1000,
        });
        for (const e of z.files) z.read(e);
      };
    });
  });

  it("the zip importer: 600 mutated data set zips (and lying entries) import or throw a known DatasetError", async () => {
    await fuzz(600, 30_000, "zip import", (rng) => {
      const { entries, zip64 } = baseZip(rng);
      // Lying entries: huge declared sizes, wrong CRCs, corrupt PNGs, hostile names.
      const victim = entries[rng.int(entries.length)]!;
      switch (rng.int(6)) {
        case 0:
          victim.declaredSize = pick(rng, [0, 1, 2 ** 31, 0xfffffffe, 3 * 2 ** 20]);
          break;
        case 1:
          victim.crc = rng.int(2 ** 31);
          break;
        case 2:
          victim.data = mutate(rng, png(7));
          break;
        case 3:
          victim.name = pick(rng, ["../x.png", "set/../../x.png", "/x.png", "set/0/\0.png", `set/0/${"d/".repeat(300)}x.png`, "C:\\x.png"]);
          break;
        case 4:
          victim.symlink = true;
          break;
        default:
          break;
      }
      let bytes = makeZip(entries, { zip64 });
      if (rng.int(3) === 0) bytes = rng.int(2) ? mutate(rng, bytes) : mutateHeader(rng, bytes);
      return () => importBytes([{ name: "set.zip", bytes }]);
    });
  });
});
