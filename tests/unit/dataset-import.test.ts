/**
 * The data set importer, its zip reader and the content-addressed store. Every fixture is made here: IDX files
 * (plain and gzipped), NNC CSVs with PNGs in a zip and on disk, folder-per-label zips (integer and name
 * folders), gray and RGB, PNG and JPEG, and broken or hostile archives from tests/helpers/zip-writer.ts.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encode as encodeJpeg } from "jpeg-js";
import { afterAll, describe, expect, it } from "vitest";
import { DatasetError, type DatasetErrorCode } from "../../lib/gan/data/dataset";
import { encodeIdxImages, encodeIdxLabels } from "../../lib/gan/data/idx";
import { loadDataset } from "../../lib/gan/data/index";
import { fitImage } from "../../lib/gan/data/resize";
import { DatasetStore, DEFAULT_IMPORT_LIMITS, type ImportOptions, type ImportProgress } from "../../lib/gan/data/store";
import { ZipArchive } from "../../lib/gan/data/zip";
import { encodePng } from "../../lib/gan/image";
import { makeZip, type ZipFixtureEntry } from "../helpers/zip-writer";

const root = mkdtempSync(join(tmpdir(), "gan-import-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
/** A fresh folder under the test's temp root. */
function fresh(name = "d"): string {
  const dir = join(root, `${name}-${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
const newStore = () => new DatasetStore(join(fresh("store"), "datasets"));

/** Runs `fn`, expects a DatasetError with `code`, returns it. */
async function rejects(fn: () => unknown, code: DatasetErrorCode): Promise<DatasetError> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    expect(e.code, e.message).toBe(code);
    return e;
  }
  throw new Error(`expected DatasetError ${code}, nothing was thrown`);
}

/** Gray image i of h×w: pixel (y, x) = (i*37 + y*11 + x*3) mod 256, distinct per image. */
function grayPixels(i: number, h: number, w: number): Uint8Array {
  const px = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = (i * 37 + y * 11 + x * 3) % 256;
  return px;
}
function rgbPixels(i: number, h: number, w: number): Uint8Array {
  const px = new Uint8Array(h * w * 3);
  for (let p = 0; p < h * w; p++) {
    px[p * 3] = (i * 13 + p) % 256;
    px[p * 3 + 1] = (i * 29 + 2 * p) % 256;
    px[p * 3 + 2] = (i * 7 + 3 * p) % 256;
  }
  return px;
}
const png = (px: Uint8Array, h: number, w: number, channels: 1 | 3 = 1) => encodePng({ width: w, height: h, channels, data: px });
/** A JPEG of a solid colour (decodes exactly: flat blocks have only DC terms). */
function solidJpeg(h: number, w: number, rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(h * w * 4);
  for (let p = 0; p < h * w; p++) data.set([...rgb, 255], p * 4);
  return new Uint8Array(encodeJpeg({ width: w, height: h, data }, 95).data);
}

interface Sample {
  label: number;
  pixels: Uint8Array;
}
/** n images per label for labels 0..numLabels-1, sorted by label (the order folder imports give), 8×8 gray. */
function samples(numLabels: number, perLabel: number, h = 8, w = 8): Sample[] {
  const out: Sample[] = [];
  for (let label = 0; label < numLabels; label++) {
    for (let k = 0; k < perLabel; k++) out.push({ label, pixels: grayPixels(out.length, h, w) });
  }
  return out;
}
const folderEntries = (s: Sample[], h = 8, w = 8, name = (x: Sample) => String(x.label)): ZipFixtureEntry[] =>
  s.map((x, i) => ({ name: `${name(x)}/img${String(i).padStart(4, "0")}.png`, data: png(x.pixels, h, w) }));
function concat(s: Sample[]): Uint8Array {
  const out = new Uint8Array(s.reduce((a, x) => a + x.pixels.length, 0));
  let p = 0;
  for (const x of s) {
    out.set(x.pixels, p);
    p += x.pixels.length;
  }
  return out;
}
/** The stored pixels of a data set as bytes (load() gives byte/255). */
function loadedBytes(store: DatasetStore, id: string): Uint8Array {
  return Uint8Array.from(store.load(id).images, (v) => Math.round(v * 255));
}
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));

describe("zip reader", () => {
  const entries: ZipFixtureEntry[] = [
    { name: "a/one.txt", data: "one one one one one" },
    { name: "a/", directory: true },
    { name: "b.bin", data: new Uint8Array([1, 2, 3]), method: 0 },
    { name: "__MACOSX/a/._one.txt", data: "resource fork" },
    { name: "a/.DS_Store", data: "finder" },
    { name: "ü/ñ.txt", data: "utf8" },
  ];

  it("reads stored and deflated entries, skips directories, ignores __MACOSX and dot-files", () => {
    for (const zip64 of [false, true]) {
      const z = ZipArchive.open(makeZip(entries, { zip64 }), "t.zip");
      expect(z.files.map((e) => e.name)).toEqual(["a/one.txt", "b.bin", "ü/ñ.txt"]);
      expect(new TextDecoder().decode(z.read(z.get("a/one.txt")!))).toBe("one one one one one");
      expect(Array.from(z.read(z.get("b.bin")!))).toEqual([1, 2, 3]);
      expect(z.entries.find((e) => e.name === "a")!.isDirectory).toBe(true);
      expect(z.entries.filter((e) => e.ignored).map((e) => e.name)).toEqual(["__MACOSX/a/._one.txt", "a/.DS_Store"]);
    }
  });

  it("reads CP437 names without the UTF-8 flag, UTF-8 names with it or without", () => {
    const cp437 = makeZip([{ name: "x", nameBytes: new Uint8Array([0x63, 0x61, 0x66, 0x82, 0x2e, 0x74]), utf8Flag: false, data: "x" }]);
    expect(ZipArchive.open(cp437, "t.zip").files[0]!.name).toBe("café.t");
    const unflagged = makeZip([{ name: "日本/猫.txt", utf8Flag: false, data: "x" }]);
    expect(ZipArchive.open(unflagged, "t.zip").files[0]!.name).toBe("日本/猫.txt");
  });

  it.each([
    ["../x.png", "unsafe_path"],
    ["a/../../x.png", "unsafe_path"],
    ["a\\..\\..\\x.png", "unsafe_path"],
    ["/etc/passwd", "unsafe_path"],
    ["C:/x.png", "unsafe_path"],
    ["a/x\0.png", "unsafe_path"],
  ] as const)("refuses the entry name %j (%s), naming it", async (name, code) => {
    const e = await rejects(
      () =>
        ZipArchive.open(
          makeZip([
            { name: "ok.txt", data: "x" },
            { name, data: "x" },
          ]),
          "t.zip",
        ),
      code,
    );
    expect(e.file).toBe(name);
  });

  it("refuses symlinks, encryption, other methods, duplicate names, CRC mismatches", async () => {
    const link = await rejects(() => ZipArchive.open(makeZip([{ name: "0/link.png", symlink: true, data: "/etc/passwd" }]), "t.zip"), "symlink");
    expect(link.file).toBe("0/link.png");
    expect((await rejects(() => ZipArchive.open(makeZip([{ name: "a.png", data: "x", flags: 1 }]), "t.zip"), "bad_archive")).message).toMatch(/encrypted/);
    expect((await rejects(() => ZipArchive.open(makeZip([{ name: "a.png", data: "x", methodId: 12 }]), "t.zip"), "bad_archive")).message).toMatch(
      /method 12 \(bzip2\)/,
    );
    await rejects(
      () =>
        ZipArchive.open(
          makeZip([
            { name: "a.png", data: "x" },
            { name: "./a.png", data: "y" },
          ]),
          "t.zip",
        ),
      "bad_archive",
    );
    const crc = ZipArchive.open(makeZip([{ name: "a.png", data: "hello", crc: 1234 }]), "t.zip");
    expect((await rejects(() => crc.read(crc.files[0]!), "bad_archive")).message).toMatch(/CRC-32/);
  });

  it("refuses bombs: a ratio over maxRatio at open, a lying header at read, overlapping entries", async () => {
    const zeros = new Uint8Array(8 * 2 ** 20);
    const bomb = await rejects(() => ZipArchive.open(makeZip([{ name: "zeros.png", data: zeros }]), "t.zip"), "zip_bomb");
    expect(bomb.message).toMatch(/expand \d+-fold/);
    expect(bomb.file).toBe("zeros.png");
    // A header declaring 1,000 bytes for data that inflates to 8 MiB: inflation stops at the declared size.
    const liar = ZipArchive.open(makeZip([{ name: "liar.png", data: zeros, declaredSize: 1000 }]), "t.zip");
    expect((await rejects(() => liar.read(liar.files[0]!), "zip_bomb")).message).toMatch(/more than the 1000 bytes its header declares/);
    // Two central directory entries pointing at the same local data.
    const twice = makeZip([
      { name: "a.png", data: "abc", method: 0 },
      { name: "b.png", data: "abc", method: 0 },
    ]);
    // Patch b's local header offset to a's (0).
    const view = new DataView(twice.buffer);
    const cd = view.getUint32(twice.length - 22 + 16, true);
    const second = cd + 46 + "a.png".length;
    view.setUint32(second + 42, 0, true);
    await rejects(() => ZipArchive.open(twice, "t.zip"), "zip_bomb");
  });

  it("enforces the entry count, entry size and total size limits", async () => {
    const three = makeZip([1, 2, 3].map((i) => ({ name: `${i}.png`, data: new Uint8Array(100).fill(i) })));
    await rejects(() => ZipArchive.open(three, "t.zip", { maxEntries: 2 }), "too_many_files");
    expect((await rejects(() => ZipArchive.open(three, "t.zip", { maxEntryBytes: 99 }), "too_large")).file).toBe("1.png");
    expect((await rejects(() => ZipArchive.open(three, "t.zip", { maxTotalBytes: 250 }), "too_large")).file).toBe("3.png");
  });

  it("refuses what is not a zip, or is truncated", async () => {
    await rejects(() => ZipArchive.open(new Uint8Array(100), "t.zip"), "bad_archive");
    const good = makeZip([{ name: "a.png", data: "hello" }]);
    await rejects(() => ZipArchive.open(good.subarray(0, good.length - 5), "t.zip"), "bad_archive");
    await rejects(() => ZipArchive.open(good.subarray(20), "t.zip"), "bad_archive");
  });
});

describe("formats", () => {
  it("imports an IDX pair, plain from disk (the partner found beside it) and gzipped as an upload", async () => {
    const s = samples(3, 8, 6, 5);
    const images = concat(s);
    const labels = s.map((x) => x.label);
    const dir = fresh("idx");
    writeFileSync(join(dir, "t10k-images-idx3-ubyte"), encodeIdxImages(images, s.length, 6, 5));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), encodeIdxLabels(labels));
    const store = newStore();
    const a = await store.importPath(join(dir, "t10k-labels-idx1-ubyte"));
    expect(a.dataset).toMatchObject({ format: "idx", count: 24, numLabels: 3, perLabel: [8, 8, 8], imageShape: [6, 5, 1], name: "t10k", resized: 0 });
    expect(same(loadedBytes(store, a.dataset.id), images)).toBe(true);
    const b = await store.importFiles([
      { name: "emnist-letters-train-images-idx3-ubyte.gz", bytes: encodeIdxImages(images, s.length, 6, 5, true) },
      { name: "emnist-letters-train-labels-idx1-ubyte.gz", bytes: encodeIdxLabels(labels, true) },
    ]);
    expect(b.dataset.id).toBe(a.dataset.id); // same content, same id
    expect(b.reused).toBe(true);
  });

  it("needs the IDX partner, and one pair only", async () => {
    const dir = fresh("idx-alone");
    writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), encodeIdxImages(new Uint8Array(4), 1, 2, 2, true));
    const e = await rejects(() => newStore().importPath(join(dir, "train-images-idx3-ubyte.gz")), "missing_file");
    expect(e.message).toMatch(/train-labels-idx1-ubyte\.gz/);
    const pair = (p: string) => [
      { name: `${p}-images-idx3-ubyte`, bytes: encodeIdxImages(new Uint8Array(4), 1, 2, 2) },
      { name: `${p}-labels-idx1-ubyte`, bytes: encodeIdxLabels([0]) },
    ];
    const two = await rejects(() => newStore().importFiles([...pair("train"), ...pair("t10k")]), "unsupported_format");
    expect(two.message).toMatch(/2 IDX images files .*one pair at a time/);
  });

  it("imports an NNC CSV on disk, paths relative to the CSV with \\ read as /, in CSV order", async () => {
    const dir = fresh("csv");
    const s = samples(2, 11);
    const order = [...s.keys()].reverse(); // CSV order differs from path order
    mkdirSync(join(dir, "training", "0"), { recursive: true });
    mkdirSync(join(dir, "training", "1"), { recursive: true });
    const lines = ["x:image,y:label"];
    for (const i of order) {
      writeFileSync(join(dir, "training", String(s[i]!.label), `${i}.png`), png(s[i]!.pixels, 8, 8));
      lines.push(`.\\training\\${s[i]!.label}\\${i}.png,${s[i]!.label}`);
    }
    writeFileSync(join(dir, "train.csv"), `${lines.join("\r\n")}\r\n`);
    const store = newStore();
    const r = await store.importPath(join(dir, "train.csv"));
    expect(r.dataset).toMatchObject({ format: "nnc-csv", count: 22, perLabel: [11, 11], name: "train", source: "train.csv" });
    expect(same(loadedBytes(store, r.dataset.id), concat(order.map((i) => s[i]!)))).toBe(true);
    // On disk, as in NNC, a path may leave the CSV's folder; a linked image is refused with its row.
    mkdirSync(join(dir, "csvs"));
    writeFileSync(join(dir, "csvs", "up.csv"), `x:image,y:label\n${order.map((i) => `../training/${s[i]!.label}/${i}.png,${s[i]!.label}`).join("\n")}\n`);
    expect((await store.importPath(join(dir, "csvs", "up.csv"))).dataset.id).toBe(r.dataset.id);
    symlinkSync(join(dir, "training", "0", "0.png"), join(dir, "training", "0", "link.png"));
    writeFileSync(join(dir, "linked.csv"), `x:image,y:label\n${lines.slice(1, 5).join("\n")}\ntraining/0/link.png,0\n`);
    const link = await rejects(() => store.importPath(join(dir, "linked.csv")), "symlink");
    expect([link.file, link.row]).toEqual(["training/0/link.png", 6]);
  });

  it("imports an NNC CSV inside a zip (paths resolved inside it) and refuses paths that leave it", async () => {
    const s = samples(2, 10);
    const entries = s.map((x, i) => ({ name: `set/images/${i}.png`, data: png(x.pixels, 8, 8) }));
    const csv = (paths: string[]) => ({ name: "set/data.csv", data: `x:image,y:label\n${s.map((x, i) => `${paths[i]},${x.label}`).join("\n")}\n` });
    const store = newStore();
    const ok = await store.importFiles([{ name: "set.zip", bytes: makeZip([...entries, csv(s.map((_, i) => `./images/${i}.png`))]) }]);
    expect(ok.dataset).toMatchObject({ format: "nnc-csv", count: 20, name: "data" });
    expect(same(loadedBytes(store, ok.dataset.id), concat(s))).toBe(true);

    const traversal = await rejects(
      () => store.importFiles([{ name: "set.zip", bytes: makeZip([...entries, csv(s.map((_, i) => (i === 4 ? "../../etc/passwd" : `images/${i}.png`)))]) }]),
      "unsafe_path",
    );
    expect([traversal.file, traversal.row]).toEqual(["set/data.csv", 6]);
    const absolute = await rejects(
      () => store.importFiles([{ name: "set.zip", bytes: makeZip([...entries, csv(s.map((_, i) => (i === 0 ? "/etc/passwd" : `images/${i}.png`)))]) }]),
      "unsafe_path",
    );
    expect(absolute.row).toBe(2);
  });

  it("imports folders named by integers as those labels", async () => {
    const s = samples(3, 7);
    const store = newStore();
    const r = await store.importFiles([{ name: "digits.zip", bytes: makeZip(folderEntries(s)) }]);
    expect(r.dataset).toMatchObject({ format: "folders", count: 21, numLabels: 3, perLabel: [7, 7, 7], name: "digits", source: "digits.zip" });
    expect(r.dataset.labelNames).toBeUndefined();
    expect(same(loadedBytes(store, r.dataset.id), concat(s))).toBe(true);
  });

  it("imports named folders under one top folder as sorted labels with labelNames", async () => {
    const names = ["zebra", "cat", "dog"];
    const s = samples(3, 7).map((x) => ({ ...x }));
    const entries = s.map((x, i) => ({ name: `animals/${names[x.label]}/${i}.png`, data: png(x.pixels, 8, 8) }));
    const r = await newStore().importFiles([{ name: "animals.zip", bytes: makeZip(entries) }]);
    expect(r.dataset.labelNames).toEqual(["cat", "dog", "zebra"]);
    // cat (label 1 in the fixture) becomes 0, dog 1, zebra 2.
    expect(r.dataset.perLabel).toEqual([7, 7, 7]);
  });

  it("imports a folder on disk (sorted paths), ignoring dot-files", async () => {
    const dir = fresh("folder");
    const s = samples(2, 10);
    s.forEach((x, i) => {
      mkdirSync(join(dir, String(x.label)), { recursive: true });
      writeFileSync(join(dir, String(x.label), `${String(i).padStart(3, "0")}.png`), png(x.pixels, 8, 8));
    });
    writeFileSync(join(dir, "0", ".DS_Store"), "junk");
    const store = newStore();
    const r = await store.importPath(dir);
    expect(r.dataset).toMatchObject({ format: "folders", count: 20 });
    expect(same(loadedBytes(store, r.dataset.id), concat(s))).toBe(true);
  });

  it("says what it found when the layout is ambiguous or unknown", async () => {
    const store = newStore();
    /** A zip of two files, x and y, named `names`: a layout the importer cannot tell. */
    const layoutError = (names: [string, string]) =>
      rejects(() => store.importFiles([{ name: "a.zip", bytes: makeZip(names.map((name, i) => ({ name, data: "xy"[i]! }))) }]), "unsupported_format");
    const a = await layoutError(["a.csv", "b.csv"]);
    expect(a.message).toMatch(/2 CSV files \(a\.csv, b\.csv\).*expected one of/);
    const b = await layoutError(["a.csv", "train-images-idx3-ubyte"]);
    expect(b.message).toMatch(/both an NNC CSV \(a\.csv\) and IDX files/);
    const c = await rejects(
      () => store.importFiles([{ name: "a.zip", bytes: makeZip([{ name: "x.png", data: png(grayPixels(0, 8, 8), 8, 8) }]) }]),
      "unsupported_format",
    );
    expect(c.message).toMatch(/x\.png is not inside a label folder/);
    const d = await rejects(() => store.importFiles([{ name: "a.zip", bytes: makeZip([{ name: "readme.txt", data: "hi" }]) }]), "unsupported_format");
    expect(d.message).toMatch(/no images, CSV or IDX files/);
  });
});

describe("validation", () => {
  const csvZip = (rows: string[], extra: ZipFixtureEntry[] = []) => {
    const s = samples(2, 10);
    return makeZip([
      ...s.map((x, i) => ({ name: `img/${i}.png`, data: png(x.pixels, 8, 8) })),
      ...extra,
      { name: "data.csv", data: `x:image,y:label\n${[...s.map((x, i) => `img/${i}.png,${x.label}`), ...rows].join("\n")}\n` },
    ]);
  };
  const importZip = (bytes: Uint8Array, opts: ImportOptions = {}) => newStore().importFiles([{ name: "set.zip", bytes }], opts);

  it("label not an integer, out of range (CSV row)", async () => {
    const e = await rejects(() => importZip(csvZip(["img/0.png,cat"])), "label_not_integer");
    expect([e.file, e.row]).toEqual(["data.csv", 22]);
    const r = await rejects(() => importZip(csvZip(["img/0.png,1000"])), "label_out_of_range");
    expect([r.file, r.row]).toEqual(["data.csv", 22]);
    await rejects(() => importZip(csvZip(["img/0.png,-1"])), "label_out_of_range");
  });

  it("missing and undecodable images name the image and the CSV row", async () => {
    const m = await rejects(() => importZip(csvZip(["img/nope.png,1"])), "missing_image");
    expect([m.file, m.row]).toEqual(["img/nope.png", 22]);
    const u = await rejects(() => importZip(csvZip(["img/bad.png,1"], [{ name: "img/bad.png", data: "not a png" }])), "undecodable_image");
    expect([u.file, u.row]).toEqual(["img/bad.png", 22]);
    const t = png(grayPixels(0, 8, 8), 8, 8);
    const truncated = await rejects(() => importZip(csvZip(["img/cut.png,1"], [{ name: "img/cut.png", data: t.subarray(0, 40) }])), "undecodable_image");
    expect(truncated.row).toBe(22);
    const j = solidJpeg(8, 8, [10, 200, 10]);
    const cutJpeg = await rejects(
      () => importZip(csvZip(["img/cut.jpg,0"], [{ name: "img/cut.jpg", data: j.subarray(0, j.length - 40) }])),
      "undecodable_image",
    );
    expect([cutJpeg.file, cutJpeg.row]).toEqual(["img/cut.jpg", 22]);
    expect(cutJpeg.message).toMatch(/not a readable JPEG image .*named on line 22 of data\.csv/);
  });

  it("mixed sizes and too large images (resize reject)", async () => {
    const m = await rejects(() => importZip(csvZip(["img/big.png,1"], [{ name: "img/big.png", data: png(grayPixels(0, 9, 8), 9, 8) }])), "mixed_sizes");
    expect([m.file, m.row]).toEqual(["img/big.png", 22]);
    expect(m.message).toMatch(/9x8 \(height x width\), the first image \(img\/0\.png\) is 8x8/);
    const s = samples(2, 10, 65, 10);
    const t = await rejects(() => importZip(makeZip(folderEntries(s, 65, 10))), "image_too_large");
    expect(t.file).toBe("0/img0000.png");
  });

  it("empty class, too few images, too few labels", async () => {
    const s = samples(4, 3).filter((x) => x.label !== 2);
    const e = await rejects(() => importZip(makeZip(folderEntries(s)), { limits: { minImages: 5 } }), "empty_class");
    expect(e.label).toBe(2);
    expect(e.message).toMatch(/label 2 has no images/);
    await rejects(() => importZip(makeZip(folderEntries(samples(2, 5)))), "too_few_images"); // 10 < 20
    const one = await rejects(() => importZip(makeZip(folderEntries([...samples(2, 12), { label: 2, pixels: grayPixels(99, 8, 8) }]))), "too_few_images");
    expect(one.label).toBe(2);
    await rejects(() => importZip(makeZip(folderEntries(samples(1, 25)))), "too_few_labels");
    await rejects(() => importZip(makeZip(folderEntries(samples(2, 10).map((x) => ({ ...x, label: x.label === 1 ? 1000 : 0 }))))), "label_out_of_range");
  });

  it("decodes JPEG, gray and colour; a data set with one colour image is RGB, gray images expanded", async () => {
    const s = samples(2, 10);
    const entries: ZipFixtureEntry[] = folderEntries(s);
    entries.push({ name: "1/zz-gray.jpg", data: solidJpeg(8, 8, [90, 90, 90]) });
    entries.push({ name: "1/zz-red.jpeg", data: solidJpeg(8, 8, [200, 40, 40]) });
    entries.push({ name: "1/zz-rgb.png", data: png(rgbPixels(1, 8, 8), 8, 8, 3) });
    const store = newStore();
    const r = await store.importFiles([{ name: "mixed.zip", bytes: makeZip(entries) }]);
    expect(r.dataset.imageShape).toEqual([8, 8, 3]);
    const px = loadedBytes(store, r.dataset.id);
    const plane = 64 * 3;
    // A gray PNG: R = G = B = its value.
    expect(Array.from(px.subarray(0, 6))).toEqual([s[0]!.pixels[0], s[0]!.pixels[0], s[0]!.pixels[0], s[0]!.pixels[1], s[0]!.pixels[1], s[0]!.pixels[1]]);
    const gray = px.subarray(20 * plane, 21 * plane); // zz-gray.jpg sorts after the PNGs of label 1
    expect(gray.every((v) => Math.abs(v - 90) <= 1)).toBe(true);
    const red = px.subarray(21 * plane, 22 * plane);
    expect(Math.abs(red[0]! - 200)).toBeLessThanOrEqual(3);
    expect(Math.abs(red[1]! - 40)).toBeLessThanOrEqual(3);
    expect(same(px.subarray(22 * plane), rgbPixels(1, 8, 8))).toBe(true);
    // All gray: the data set stays one channel.
    const grayOnly = await newStore().importFiles([
      { name: "g.zip", bytes: makeZip([...folderEntries(s), { name: "1/z.jpg", data: solidJpeg(8, 8, [7, 7, 7]) }]) },
    ]);
    expect(grayOnly.dataset.imageShape).toEqual([8, 8, 1]);
  });

  it("refuses image bombs from their headers before decoding (JPEG SOF and PNG IHDR of 60000×60000)", async () => {
    const jpg = solidJpeg(8, 8, [1, 2, 3]);
    const sof = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
    jpg.set([0xea, 0x60, 0xea, 0x60], sof + 5);
    const s = samples(2, 10);
    for (const resize of ["reject", "fit"] as const) {
      const e = await rejects(() => importZip(makeZip([...folderEntries(s), { name: "1/bomb.jpg", data: jpg }]), { resize }), "image_too_large");
      expect(e.file).toBe("1/bomb.jpg");
      expect(e.message).toMatch(/60000x60000/);
    }
    const p = png(grayPixels(0, 8, 8), 8, 8);
    p.set([0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60], 16);
    await rejects(() => importZip(makeZip([...folderEntries(s), { name: "1/bomb.png", data: p }]), { resize: "fit" }), "image_too_large");
  });
});

describe("resize", () => {
  it("fit keeps the aspect ratio: a 20×10 image fit to 16×16 is 16×8 centred, padded with its border mean", () => {
    const h = 20;
    const w = 10;
    const src = new Uint8Array(h * w).fill(30); // border 30
    for (let y = 2; y < 18; y++) for (let x = 2; x < 8; x++) src[y * w + x] = 230; // a bar inside
    const out = fitImage(src, h, w, 1, 16, 16);
    for (let y = 0; y < 16; y++) {
      for (const x of [0, 1, 2, 3, 12, 13, 14, 15]) expect(out[y * 16 + x]).toBe(30); // padding columns
      expect(out[y * 16 + 4]).toBe(30); // the image's own border
    }
    // Content unstretched: the 6-wide bar is 4.8 wide at 0.8 scale, not 9.6 as a 16-wide stretch would make it.
    const row = Array.from(out.subarray(8 * 16, 9 * 16));
    const bright = row.filter((v) => v > 200).length;
    expect(bright).toBeGreaterThanOrEqual(4);
    expect(bright).toBeLessThanOrEqual(5);
  });

  it("enlarges bilinearly and shrinks by area average", () => {
    expect(Array.from(fitImage(new Uint8Array([0, 100]), 1, 2, 1, 2, 4))).toEqual([0, 25, 75, 100, 0, 25, 75, 100]);
    expect(Array.from(fitImage(new Uint8Array([0, 100, 200, 40]), 1, 4, 1, 1, 2))).toEqual([50, 120]);
  });

  it("reject refuses mixed sizes; fit scales to the most common size and counts what it resized", async () => {
    const s = samples(2, 10);
    const entries = [...folderEntries(s), { name: "1/tall.png", data: png(grayPixels(5, 16, 8), 16, 8) }];
    await rejects(() => newStore().importFiles([{ name: "a.zip", bytes: makeZip(entries) }]), "mixed_sizes");
    const store = newStore();
    const r = await store.importFiles([{ name: "a.zip", bytes: makeZip(entries) }], { resize: "fit" });
    expect(r.dataset).toMatchObject({ imageShape: [8, 8, 1], resized: 1, count: 21 });
    const explicit = await store.importFiles([{ name: "a.zip", bytes: makeZip(entries) }], { resize: "fit", size: [16, 16] });
    expect(explicit.dataset).toMatchObject({ imageShape: [16, 16, 1], resized: 21 }); // the 16×8 one is padded too
    // Larger than 64: the most common size is shrunk to fit 64×64 keeping its aspect ratio.
    const big = samples(2, 10, 100, 50);
    const shrunk = await store.importFiles([{ name: "b.zip", bytes: makeZip(folderEntries(big, 100, 50)) }], { resize: "fit" });
    expect(shrunk.dataset).toMatchObject({ imageShape: [64, 32, 1], resized: 20 });
  });
});

describe("limits", () => {
  const s = samples(2, 10);
  const good = makeZip(folderEntries(s));

  it("upload size, file count, decoded size", async () => {
    await rejects(() => newStore().importFiles([{ name: "a.zip", bytes: good }], { limits: { maxUploadBytes: good.length - 1 } }), "too_large");
    await rejects(() => newStore().importFiles([{ name: "a.zip", bytes: good }], { limits: { maxFiles: 19 } }), "too_many_files");
    await rejects(() => newStore().importFiles([{ name: "a.zip", bytes: good }], { limits: { maxDecodedBytes: 20 * 64 - 1 } }), "too_large");
    const dir = fresh("many");
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `${i}.txt`), "x");
    await rejects(() => newStore().importPath(dir, { limits: { maxFiles: 4 } }), "too_many_files");
    await rejects(() => newStore().importPath(dir, { limits: { maxUploadBytes: 4 } }), "too_large");
  });

  it("zip bombs by ratio and by a lying header, through the importer", async () => {
    const zeros = new Uint8Array(2 * 2 ** 20);
    const byRatio = makeZip([...folderEntries(s), { name: "1/zeros.png", data: zeros }]);
    expect((await rejects(() => newStore().importFiles([{ name: "a.zip", bytes: byRatio }]), "zip_bomb")).file).toBe("1/zeros.png");
    const big = png(grayPixels(1, 8, 8), 8, 8);
    const lying = makeZip([...folderEntries(s), { name: "1/z.png", data: new Uint8Array(Buffer.concat([big, zeros])), declaredSize: big.length }]);
    expect((await rejects(() => newStore().importFiles([{ name: "a.zip", bytes: lying }]), "zip_bomb")).file).toBe("1/z.png");
  });

  it("path escapes and absolute paths in a zip or an upload, symlink entries, symlinks in a folder", async () => {
    expect(
      (await rejects(() => newStore().importFiles([{ name: "a.zip", bytes: makeZip([...folderEntries(s), { name: "../x.png", data: "x" }]) }]), "unsafe_path"))
        .file,
    ).toBe("../x.png");
    expect(
      (
        await rejects(
          () => newStore().importFiles([{ name: "a.zip", bytes: makeZip([...folderEntries(s), { name: "/abs/x.png", data: "x" }]) }]),
          "unsafe_path",
        )
      ).file,
    ).toBe("/abs/x.png");
    await rejects(
      () =>
        newStore().importFiles([
          { name: "../../0/x.png", bytes: png(s[0]!.pixels, 8, 8) },
          { name: "1/y.png", bytes: png(s[0]!.pixels, 8, 8) },
        ]),
      "unsafe_path",
    );
    const link = await rejects(
      () => newStore().importFiles([{ name: "a.zip", bytes: makeZip([...folderEntries(s), { name: "1/link.png", symlink: true, data: "/etc/passwd" }]) }]),
      "symlink",
    );
    expect(link.file).toBe("1/link.png");
    const dir = fresh("links");
    s.forEach((x, i) => {
      mkdirSync(join(dir, String(x.label)), { recursive: true });
      writeFileSync(join(dir, String(x.label), `${i}.png`), png(x.pixels, 8, 8));
    });
    symlinkSync("/etc/passwd", join(dir, "1", "zz.png"));
    expect((await rejects(() => newStore().importPath(dir), "symlink")).file).toBe("1/zz.png");
    const linkedDir = join(fresh("linkdir"), "set");
    symlinkSync(dir, linkedDir);
    await rejects(() => newStore().importPath(linkedDir), "symlink");
  });

  it("has the defaults docs/datasets.md documents, every one of them", () => {
    const doc = readFileSync(join(__dirname, "../../docs/datasets.md"), "utf8");
    const units: Record<string, number> = { "": 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 };
    const documented: Record<string, number> = {};
    for (const m of doc.matchAll(/^\| `(\w+)`[^|]*\| ([\d,]+) ?(KiB|MiB|GiB)? \|/gm)) {
      documented[m[1]!] = Number(m[2]!.replace(/,/g, "")) * units[m[3] ?? ""]!;
    }
    expect(documented).toEqual({ ...DEFAULT_IMPORT_LIMITS });
  });
});

describe("store", () => {
  const s = samples(2, 12);
  const zip = makeZip(folderEntries(s));
  const idx = () => [
    { name: "train-images-idx3-ubyte.gz", bytes: encodeIdxImages(concat(s), s.length, 8, 8, true) },
    {
      name: "train-labels-idx1-ubyte.gz",
      bytes: encodeIdxLabels(
        s.map((x) => x.label),
        true,
      ),
    },
  ];

  it("is content-addressed: the same images through two formats get one id; a repeat import decodes nothing", async () => {
    const store = newStore();
    const a = await store.importFiles([{ name: "digits.zip", bytes: zip }], { name: "Digits", importedBy: "ada" });
    expect(a.reused).toBe(false);
    expect(a.dataset.id).toMatch(/^ds-[0-9a-f]{20}$/);
    expect(a.dataset.hash.startsWith(a.dataset.id.slice(3))).toBe(true);
    expect(a.dataset).toMatchObject({ name: "Digits", importedBy: "ada", bytes: 24 * 64 + 24 * 2 });
    const phases: ImportProgress[] = [];
    const again = await store.importFiles([{ name: "digits.zip", bytes: zip }], { onProgress: (p) => phases.push(p) });
    expect(again).toEqual({ dataset: a.dataset, reused: true });
    expect(phases.some((p) => p.phase === "decoding" || p.phase === "storing")).toBe(false);
    expect(phases.at(-1)).toEqual({ phase: "done", done: 24, total: 24 });
    const viaIdx = await store.importFiles(idx());
    expect(viaIdx.dataset.id).toBe(a.dataset.id);
    expect(viaIdx.reused).toBe(true);
    expect(store.list().map((m) => m.id)).toEqual([a.dataset.id]);
    expect(readdirSync(join(store.dir, "sources"))).toHaveLength(2);
  });

  it("reports progress per phase, throttled, and stops on an AbortSignal", async () => {
    const many = samples(4, 100);
    const bytes = makeZip(folderEntries(many));
    const seen: ImportProgress[] = [];
    await newStore().importFiles([{ name: "m.zip", bytes }], { onProgress: (p) => seen.push(p) });
    expect([...new Set(seen.map((p) => p.phase))]).toEqual(["reading", "decoding", "storing", "done"]);
    const decoding = seen.filter((p) => p.phase === "decoding");
    expect(decoding.length).toBeLessThanOrEqual(110);
    expect(decoding.at(-1)).toEqual({ phase: "decoding", done: 400, total: 400 });
    const controller = new AbortController();
    const store = newStore();
    await rejects(
      () =>
        store.importFiles([{ name: "m.zip", bytes }], {
          signal: controller.signal,
          onProgress: (p) => p.phase === "decoding" && p.done > 100 && controller.abort(),
        }),
      "aborted",
    );
    expect(existsSync(join(store.dir, "objects")) ? readdirSync(join(store.dir, "objects")) : []).toEqual([]);
  });

  it("is atomic: a failure while storing or decoding leaves no object, no work folder, no source entry", async () => {
    const store = newStore();
    await store.importFiles([{ name: "other.zip", bytes: makeZip(folderEntries(samples(3, 8))) }]);
    const before = readdirSync(join(store.dir, "objects"));
    const failing = store.importFiles([{ name: "digits.zip", bytes: zip }], {
      onProgress: (p) => {
        if (p.phase === "storing" && p.done >= 12) throw new Error("disk full (injected)");
      },
    });
    await expect(failing).rejects.toThrow("disk full (injected)");
    const bad = makeZip([...folderEntries(s), { name: "1/zz.png", data: "garbage" }]);
    await rejects(() => store.importFiles([{ name: "bad.zip", bytes: bad }]), "undecodable_image");
    expect(readdirSync(join(store.dir, "objects"))).toEqual(before);
    expect(readdirSync(store.dir).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
    expect(readdirSync(join(store.dir, "sources"))).toHaveLength(1);
    // The same import then succeeds.
    expect((await store.importFiles([{ name: "digits.zip", bytes: zip }])).reused).toBe(false);
  });

  it("removes work folders left behind when it is opened", () => {
    const dir = join(fresh("stale"), "datasets");
    mkdirSync(join(dir, ".tmp-999999999-abc"), { recursive: true });
    mkdirSync(join(dir, ".tmp-junk"), { recursive: true });
    writeFileSync(join(dir, ".tmp-junk", "images.u8"), "x");
    new DatasetStore(dir);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("loads, lists newest first, picks examples deterministically, removes", async () => {
    const store = newStore();
    const a = await store.importFiles([{ name: "digits.zip", bytes: zip }]);
    await new Promise((r) => setTimeout(r, 5));
    const b = await store.importFiles([{ name: "three.zip", bytes: makeZip(folderEntries(samples(3, 8))) }]);
    expect(store.list().map((m) => m.id)).toEqual([b.dataset.id, a.dataset.id]);
    const ds = store.load(a.dataset.id);
    expect(ds).toMatchObject({ name: a.dataset.id, height: 8, width: 8, channels: 1, numLabels: 2, count: 24 });
    expect(Array.from(ds.labels)).toEqual(s.map((x) => x.label));
    expect(ds.images[1]).toBeCloseTo(s[0]!.pixels[1]! / 255, 6);
    const ex = store.examples(a.dataset.id, 5, 7)!;
    expect(ex.map((l) => l.length)).toEqual([5, 5]);
    expect(ex[0]!.every((i) => i < 12) && ex[1]!.every((i) => i >= 12)).toBe(true);
    expect(store.examples(a.dataset.id, 5, 7)).toEqual(ex);
    expect(store.examples(a.dataset.id, 5, 8)).not.toEqual(ex);
    expect(store.examples(a.dataset.id, 50, 7)!.map((l) => l.length)).toEqual([12, 12]);
    // readImages reads just the images asked for, in the order asked, as load() has them.
    const picked = store.readImages(a.dataset.id, [13, 2]);
    expect(Array.from(picked)).toEqual([...ds.images.subarray(13 * 64, 14 * 64), ...ds.images.subarray(2 * 64, 3 * 64)]);
    expect(() => store.readImages(a.dataset.id, [24])).toThrow(RangeError);
    expect(store.remove(a.dataset.id)).toBe(true);
    expect(store.remove(a.dataset.id)).toBe(false);
    expect(store.has(a.dataset.id)).toBe(false);
    expect(store.get(a.dataset.id)).toBeUndefined();
    expect(() => store.objectDir("../etc")).toThrow(RangeError);
    // Its source entry went with it: importing again decodes again.
    expect((await store.importFiles([{ name: "digits.zip", bytes: zip }])).reused).toBe(false);
  });

  it("is what loadDataset reads for a ds-… id", async () => {
    const store = newStore();
    const { dataset } = await store.importFiles(idx());
    const ds = loadDataset(dataset.id, { storeDir: store.dir });
    expect(ds.count).toBe(24);
    expect(Array.from(ds.images.subarray(0, 64), (v) => Math.round(v * 255))).toEqual(Array.from(s[0]!.pixels));
    const missing = await rejects(() => loadDataset("ds-00000000000000000000", { storeDir: store.dir }), "missing_file");
    expect(missing.message).toContain(store.dir);
  });
});
