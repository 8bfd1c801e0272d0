import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  DatasetError,
  checkDatasetShape,
  datasetSummary,
  epochOrder,
  gatherBatch,
  imageAt,
  iterationsPerEpoch,
  selectIndices,
  splitDataset,
  subsetDataset,
  validateDataset,
  type ImageDataset,
} from "../../lib/gan/data/dataset";
import { bundledMnistDir, loadBundledMnist } from "../../lib/gan/data/mnist-bundled";
import { encodeIdxImages, encodeIdxLabels, loadIdx, parseIdx, writeIdx } from "../../lib/gan/data/idx";
import { loadNncCsv, parseCsv } from "../../lib/gan/data/nnc-csv";
import { encodePng } from "../../lib/gan/image";

/** Runs `fn`, expects a DatasetError, returns it. */
function datasetError(fn: () => unknown): DatasetError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DatasetError);
    return e as DatasetError;
  }
  throw new Error("expected a DatasetError, nothing was thrown");
}

/**
 * A synthetic 2x3x1 data set whose image i holds i in its first pixel (so copies can be traced back) and
 * label labelOf(i).
 */
function synthetic(count: number, numLabels: number, labelOf = (i: number) => i % numLabels): ImageDataset {
  const size = 6;
  const images = new Float32Array(count * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    images[i * size] = i;
    images.fill(labelOf(i) / 10, i * size + 1, (i + 1) * size);
    labels[i] = labelOf(i);
  }
  return { name: "synthetic", height: 2, width: 3, channels: 1, numLabels, count, images, labels };
}

/** Byte-wise equality of two typed arrays (vitest's toEqual is far too slow for millions of elements). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The ids (first pixel) of every image of a synthetic data set. */
function ids(ds: ImageDataset): number[] {
  const size = ds.height * ds.width * ds.channels;
  return Array.from({ length: ds.count }, (_, i) => ds.images[i * size]!);
}

describe("bundled MNIST", () => {
  it("has the 10,000 digits of the mnist package, 10 labels, each ≥ 800, pixels in [0,1], labels interleaved", () => {
    const t = performance.now();
    const ds = loadBundledMnist();
    const ms = performance.now() - t;
    expect(ms).toBeLessThan(5000); // target < 2 s; loose bound for a busy CI machine
    expect(ds.name).toBe("mnist-bundled");
    expect([ds.count, ds.height, ds.width, ds.channels, ds.numLabels]).toEqual([10000, 28, 28, 1, 10]);
    expect(ds.images.length).toBe(10000 * 784);
    const summary = validateDataset(ds, { minPerLabel: 800 });
    expect(summary.perLabel.reduce((a, b) => a + b, 0)).toBe(10000);
    expect(summary.minPerLabel).toBeGreaterThanOrEqual(800);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    expect(Array.from(ds.labels.subarray(0, 20))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(loadBundledMnist()).toBe(ds); // cached
  });

  it("reads exactly the values JSON.parse gives (fast scanner), in file order within a label", () => {
    const ds = loadBundledMnist();
    const raw = (JSON.parse(readFileSync(join(bundledMnistDir(), "5.json"), "utf8")) as { data: number[] }).data;
    const expected = Float32Array.from(raw);
    const got = new Float32Array(expected.length);
    let k = 0;
    for (let i = 0; i < ds.count; i++) {
      if (ds.labels[i] === 5) got.set(imageAt(ds, i).data, 784 * k++);
    }
    expect(k * 784).toBe(expected.length);
    expect(sameBytes(got, expected)).toBe(true);
    got[123] = got[123]! + 0.001;
    expect(sameBytes(got, expected)).toBe(false);
  });

  it("splits deterministically and stratified", () => {
    const ds = loadBundledMnist();
    const a = splitDataset(ds, { seed: 42 });
    const b = splitDataset(ds, { seed: 42 });
    const c = splitDataset(ds, { seed: 43 });
    expect(a.train.count + a.validation.count).toBe(10000);
    expect(sameBytes(a.validation.labels, b.validation.labels)).toBe(true);
    expect(sameBytes(a.validation.images, b.validation.images)).toBe(true);
    expect(sameBytes(a.train.images, b.train.images)).toBe(true);
    expect(a.validation.images.length).toBe(c.validation.images.length);
    expect(sameBytes(c.validation.images, a.validation.images)).toBe(false);
    const perLabel = datasetSummary(ds).perLabel;
    expect(datasetSummary(a.validation).perLabel).toEqual(perLabel.map((n) => Math.round(n / 6)));
    expect(datasetSummary(a.train).perLabel).toEqual(perLabel.map((n) => n - Math.round(n / 6)));
    expect(a.train.name).toBe("mnist-bundled/train");
  });

  it("subsetDataset(640) keeps every label, 64 each", () => {
    const sub = subsetDataset(loadBundledMnist(), 640);
    expect(sub.count).toBe(640);
    expect(datasetSummary(sub).perLabel).toEqual(new Array(10).fill(64));
  });
});

describe("splitDataset", () => {
  it("never puts an image in both parts and keeps every image once", () => {
    const ds = synthetic(300, 3, (i) => (i * 7) % 3);
    const { train, validation } = splitDataset(ds, { seed: 1, validationFraction: 0.2 });
    const t = ids(train);
    const v = ids(validation);
    expect(new Set([...t, ...v]).size).toBe(300);
    expect(t.length + v.length).toBe(300);
    expect(datasetSummary(validation).perLabel).toEqual([20, 20, 20]);
    // Labels travel with their images.
    for (let i = 0; i < validation.count; i++) expect(validation.labels[i]).toBe((v[i]! * 7) % 3);
    // Both parts keep the original order.
    expect(t).toEqual([...t].sort((x, y) => x - y));
    expect(v).toEqual([...v].sort((x, y) => x - y));
    // Different seeds choose differently.
    expect(ids(splitDataset(ds, { seed: 2, validationFraction: 0.2 }).validation)).not.toEqual(v);
  });

  it("keeps at least one training image per label and rejects a bad fraction", () => {
    const ds = synthetic(5, 3, (i) => [0, 0, 1, 2, 2][i]!);
    const { train, validation } = splitDataset(ds, { seed: 3, validationFraction: 0.9 });
    expect(datasetSummary(train).perLabel).toEqual([1, 1, 1]);
    expect(validation.count).toBe(2);
    expect(splitDataset(ds, { seed: 3, validationFraction: 0 }).validation.count).toBe(0);
    expect(() => splitDataset(ds, { seed: 3, validationFraction: 1 })).toThrow(RangeError);
  });
});

describe("subsetDataset", () => {
  it("takes a label round-robin prefix and returns the set itself when the limit covers it", () => {
    const ds = synthetic(12, 4, (i) => (i < 9 ? 0 : i - 8)); // labels 0×9, then 1, 2, 3
    const sub = subsetDataset(ds, 5);
    expect(ids(sub)).toEqual([0, 9, 10, 11, 1]);
    expect(sub.name).toBe("synthetic/limit5");
    expect(subsetDataset(ds, 12)).toBe(ds);
    expect(subsetDataset(ds, 0).count).toBe(0);
    expect(() => subsetDataset(ds, -1)).toThrow(RangeError);
  });
});

describe("epochOrder", () => {
  it("is a permutation, repeatable for (seed, epoch), different across epochs and seeds", () => {
    const a = epochOrder(1000, 7, 0);
    expect(a).toBeInstanceOf(Int32Array);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochOrder(1000, 7, 0)).toEqual(a);
    expect(epochOrder(1000, 7, 1)).not.toEqual(a);
    expect(epochOrder(1000, 8, 0)).not.toEqual(a);
    expect(Array.from(a)).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});

describe("gatherBatch and iterationsPerEpoch", () => {
  it("copies the rows of the chosen indices, into fresh or reused buffers", () => {
    const ds = synthetic(10, 2);
    const order = [9, 3, 5, 0, 1];
    const batch = gatherBatch(ds, order, 1, 3);
    expect(Array.from(batch.labels)).toEqual([1, 1, 0]);
    expect(batch.images.length).toBe(18);
    expect(Array.from(batch.images.subarray(6, 12))).toEqual(Array.from(ds.images.subarray(30, 36)));
    expect(batch.images[0]).toBe(3);
    batch.images[0] = -1; // a copy, not a view
    expect(ds.images[18]).toBe(3);
    const reused = gatherBatch(ds, order, 2, 3, batch);
    expect(reused.images).toBe(batch.images);
    expect([reused.images[0], reused.images[6], reused.images[12]]).toEqual([5, 0, 1]);
    expect(() => gatherBatch(ds, order, 3, 3)).toThrow(RangeError);
    expect(() => gatherBatch(ds, [0, 10], 0, 2)).toThrow(RangeError);
  });

  it("drops the remainder and refuses a set smaller than one batch", () => {
    expect(iterationsPerEpoch(10000, 64)).toBe(156);
    expect(iterationsPerEpoch(64, 64)).toBe(1);
    const err = datasetError(() => iterationsPerEpoch(63, 64));
    expect(err.code).toBe("too_few_images");
    expect(err.message).toContain("63");
    expect(err.message).toContain("64");
    expect(() => iterationsPerEpoch(100, 0)).toThrow(RangeError);
  });
});

describe("validateDataset and datasetSummary", () => {
  it("names an empty label, a label with too few images, and a label out of range", () => {
    const ds = synthetic(6, 4, (i) => [0, 1, 3, 0, 1, 3][i]!);
    const err = datasetError(() => validateDataset(ds));
    expect(err.code).toBe("empty_class");
    expect(err.label).toBe(2);
    expect(err.message).toContain("label 2");
    const few = datasetError(() => validateDataset(synthetic(6, 3), { minPerLabel: 3 }));
    expect(few.code).toBe("too_few_images");
    expect(few.label).toBe(0);
    const bad = synthetic(4, 2);
    bad.labels[2] = 5;
    const oob = datasetError(() => checkDatasetShape(bad));
    expect([oob.code, oob.row, oob.label]).toEqual(["label_out_of_range", 2, 5]);
    const short = { ...synthetic(4, 2), count: 5 };
    expect(datasetError(() => validateDataset(short)).code).toBe("bad_format");
  });

  it("summarises counts per label and the shape", () => {
    const s = datasetSummary(synthetic(7, 3));
    expect(s).toEqual({
      name: "synthetic",
      count: 7,
      height: 2,
      width: 3,
      channels: 1,
      numLabels: 3,
      perLabel: [3, 2, 2],
      minPerLabel: 2,
      maxPerLabel: 3,
    });
    expect(ids(selectIndices(synthetic(7, 3), [6, 0]))).toEqual([6, 0]);
  });
});

describe("file loaders", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "gan-data-test-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe("IDX", () => {
    const pixels = new Uint8Array(4 * 2 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 11) % 256;
    const labels = [3, 0, 9, 3];

    it("loads plain and gzipped files", () => {
      for (const gz of [false, true]) {
        const img = join(dir, `img${gz}.idx`);
        const lab = join(dir, `lab${gz}.idx`);
        writeFileSync(img, encodeIdxImages(pixels, 4, 2, 3, gz));
        writeFileSync(lab, encodeIdxLabels(labels, gz));
        if (gz) expect(Array.from(readFileSync(img).subarray(0, 2))).toEqual([0x1f, 0x8b]);
        const ds = loadIdx(img, lab, { name: "tiny" });
        expect([ds.name, ds.count, ds.height, ds.width, ds.channels, ds.numLabels]).toEqual(["tiny", 4, 2, 3, 1, 10]);
        expect(Array.from(ds.labels)).toEqual(labels);
        expect(Array.from(ds.images)).toEqual(Array.from(pixels, (v) => Math.fround(v / 255)));
      }
    });

    it("round-trips through writeIdx", () => {
      const ds = loadBundledMnist();
      const small = subsetDataset(ds, 20);
      writeIdx(small, join(dir, "w-img.gz"), join(dir, "w-lab.gz"), true);
      const back = loadIdx(join(dir, "w-img.gz"), join(dir, "w-lab.gz"));
      expect(back.labels).toEqual(small.labels);
      for (let i = 0; i < back.images.length; i++) {
        expect(Math.abs(back.images[i]! - small.images[i]!)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
      }
    });

    it("names the missing file", () => {
      const lab = join(dir, "ok-labels.idx");
      writeFileSync(lab, encodeIdxLabels(labels));
      const err = datasetError(() => loadIdx(join(dir, "nope.idx"), lab));
      expect(err.code).toBe("missing_file");
      expect(err.file).toBe(join(dir, "nope.idx"));
      expect(err.message).toContain("nope.idx");
    });

    it("rejects a bad magic, truncated data, trailing bytes and corrupt gzip with bad_format", () => {
      const bad = encodeIdxImages(pixels, 4, 2, 3);
      bad[3] = 0x04;
      expect(datasetError(() => parseIdx(bad, "bad.idx"))).toMatchObject({ code: "bad_format", file: "bad.idx" });
      const full = encodeIdxImages(pixels, 4, 2, 3);
      const truncated = datasetError(() => parseIdx(full.subarray(0, full.length - 1), "t.idx"));
      expect([truncated.code, truncated.file]).toEqual(["bad_format", "t.idx"]);
      expect(truncated.message).toContain("truncated");
      const longer = new Uint8Array(full.length + 1);
      longer.set(full);
      expect(datasetError(() => parseIdx(longer, "l.idx")).code).toBe("bad_format");
      expect(datasetError(() => parseIdx(new Uint8Array([0, 0, 8]), "s.idx")).code).toBe("bad_format");
      const gz = gzipSync(full);
      const corrupt = datasetError(() => parseIdx(gz.subarray(0, 20), "c.gz"));
      expect([corrupt.code, corrupt.file]).toEqual(["bad_format", "c.gz"]);
    });

    it("rejects swapped files and a count mismatch", () => {
      const img = join(dir, "m-img.idx");
      const lab = join(dir, "m-lab.idx");
      writeFileSync(img, encodeIdxImages(pixels, 4, 2, 3));
      writeFileSync(lab, encodeIdxLabels([1, 2, 3]));
      const mismatch = datasetError(() => loadIdx(img, lab));
      expect([mismatch.code, mismatch.file]).toEqual(["bad_format", img]);
      expect(mismatch.message).toMatch(/4 images but 3 labels/);
      const swapped = datasetError(() => loadIdx(lab, img));
      expect([swapped.code, swapped.file]).toEqual(["bad_format", lab]);
    });

    it("checks labels against numLabels when given (row = 0-based item), else numLabels = max + 1", () => {
      const img = join(dir, "r-img.idx");
      const lab = join(dir, "r-lab.idx");
      writeFileSync(img, encodeIdxImages(pixels, 4, 2, 3));
      writeFileSync(lab, encodeIdxLabels([1, 2, 12, 0]));
      expect(loadIdx(img, lab).numLabels).toBe(13);
      const err = datasetError(() => loadIdx(img, lab, { numLabels: 10 }));
      expect([err.code, err.file, err.row, err.label]).toEqual(["label_out_of_range", lab, 2, 12]);
    });
  });

  describe("NNC CSV", () => {
    const gray = (v: number, w = 4, h = 3) => encodePng({ width: w, height: h, channels: 1, data: new Float32Array(w * h).fill(v) });

    /** A folder with images a.png (0.2), b.png (0.6), c.png (1.0) under img/ and a CSV written from `csv`. */
    function fixture(name: string, csv: string): string {
      const root = join(dir, name);
      mkdirSync(join(root, "img"), { recursive: true });
      writeFileSync(join(root, "img", "a.png"), gray(0.2));
      writeFileSync(join(root, "img", "b.png"), gray(0.6));
      writeFileSync(join(root, "img", "c.png"), gray(1));
      const path = join(root, "data.csv");
      writeFileSync(path, csv);
      return path;
    }

    it("loads images relative to the CSV with their labels", () => {
      const ds = loadNncCsv(fixture("plain", "x:image,y:label\n./img/a.png,0\nimg/b.png,2\nimg/c.png,1\n"));
      expect([ds.name, ds.count, ds.height, ds.width, ds.channels, ds.numLabels]).toEqual(["data", 3, 3, 4, 1, 3]);
      expect(Array.from(ds.labels)).toEqual([0, 2, 1]);
      expect(ds.images[0]).toBeCloseTo(51 / 255, 6);
      expect(ds.images[12]).toBeCloseTo(153 / 255, 6);
      expect(ds.images[24]).toBe(1);
    });

    it("accepts BOM, CRLF, quotes, either column order, extra columns, backslashes and blank lines", () => {
      const csv = '\uFEFFid,"y:label",x:image\r\n1,1,"img\\a.png"\r\n\r\n2, 0 ,"img/b.png"\r\n"3,x",1,img/c.png';
      const ds = loadNncCsv(fixture("robust", csv), { height: 3, width: 4 });
      expect(ds.count).toBe(3);
      expect(Array.from(ds.labels)).toEqual([1, 0, 1]);
      expect(ds.images[12]).toBeCloseTo(153 / 255, 6);
    });

    it("parses quoted fields with commas, quotes and line breaks, tracking line numbers", () => {
      const recs = parseCsv('a,b\n"x,1","he said ""hi""\nthere"\nlast,"z"\n');
      expect(recs).toEqual([
        { fields: ["a", "b"], line: 1 },
        { fields: ["x,1", 'he said "hi"\nthere'], line: 2 },
        { fields: ["last", "z"], line: 4 },
      ]);
      const err = datasetError(() => parseCsv('a,b\n1,"open\n', "f.csv"));
      expect([err.code, err.file, err.row]).toEqual(["bad_format", "f.csv", 2]);
    });

    it("converts to RGB when any image has colour, replicating gray images", () => {
      const path = fixture("rgb", "x:image,y:label\nimg/a.png,0\nimg/col.png,1\n");
      const colour = new Float32Array(12 * 3);
      for (let p = 0; p < 12; p++) colour.set([1, 0, 0.6], p * 3);
      writeFileSync(join(dir, "rgb", "img", "col.png"), encodePng({ width: 4, height: 3, channels: 3, data: colour }));
      const ds = loadNncCsv(path);
      expect(ds.channels).toBe(3);
      expect(ds.images.length).toBe(2 * 12 * 3);
      expect(Array.from(ds.images.subarray(0, 3)).map((v) => Math.round(v * 255))).toEqual([51, 51, 51]);
      expect(Array.from(ds.images.subarray(36, 39)).map((v) => Math.round(v * 255))).toEqual([255, 0, 153]);
    });

    it("reports a missing CSV and missing header columns", () => {
      const missing = datasetError(() => loadNncCsv(join(dir, "none.csv")));
      expect([missing.code, missing.file]).toEqual(["missing_file", join(dir, "none.csv")]);
      const path = fixture("nohdr", "image,label\nimg/a.png,0\n");
      const err = datasetError(() => loadNncCsv(path));
      expect([err.code, err.file, err.row]).toEqual(["bad_format", path, 1]);
      expect(err.message).toContain("x:image");
      const onlyX = datasetError(() => loadNncCsv(fixture("nolabel", "x:image\nimg/a.png\n")));
      expect(onlyX.message).toContain("y:label");
    });

    it("names the CSV, line and image for a missing or undecodable image", () => {
      const path = fixture("missing", "x:image,y:label\nimg/a.png,0\n\nimg/zzz.png,1\n");
      const err = datasetError(() => loadNncCsv(path));
      expect([err.code, err.file, err.row]).toEqual(["missing_image", path, 4]);
      expect(err.image).toBe(join(dir, "missing", "img", "zzz.png"));
      expect(err.message).toContain("img/zzz.png");

      const bad = fixture("undecodable", "x:image,y:label\nimg/a.png,0\nimg/bad.png,1\n");
      writeFileSync(join(dir, "undecodable", "img", "bad.png"), "not a png");
      const err2 = datasetError(() => loadNncCsv(bad));
      expect([err2.code, err2.file, err2.row, err2.image]).toEqual(["undecodable_image", bad, 3, join(dir, "undecodable", "img", "bad.png")]);
    });

    it("reports mixed sizes and a size other than the one requested", () => {
      const path = fixture("sizes", "x:image,y:label\nimg/a.png,0\nimg/big.png,1\n");
      writeFileSync(join(dir, "sizes", "img", "big.png"), gray(0.5, 5, 3));
      const mixed = datasetError(() => loadNncCsv(path));
      expect([mixed.code, mixed.file, mixed.row]).toEqual(["mixed_sizes", path, 3]);
      expect(mixed.message).toContain("5x3");
      const wrong = datasetError(() => loadNncCsv(path, { height: 28, width: 28 }));
      expect([wrong.code, wrong.file, wrong.row]).toEqual(["wrong_image_size", path, 2]);
      expect(wrong.message).toContain("28x28");
    });

    it("rejects non-integer and negative labels with their line", () => {
      for (const [label, code] of [
        ["3.5", "label_not_integer"],
        ["", "label_not_integer"],
        ["five", "label_not_integer"],
        ["-1", "label_out_of_range"],
        ["70000", "label_out_of_range"],
      ] as const) {
        const path = fixture(`label-${code}-${label}`, `x:image,y:label\nimg/a.png,0\nimg/b.png,${label}\n`);
        const err = datasetError(() => loadNncCsv(path));
        expect([err.code, err.file, err.row]).toEqual([code, path, 3]);
      }
      const path = fixture("label-limit", "x:image,y:label\nimg/a.png,0\nimg/b.png,10\n");
      expect(datasetError(() => loadNncCsv(path, { numLabels: 10 })).code).toBe("label_out_of_range");
      expect(loadNncCsv(path).numLabels).toBe(11);
    });

    it("rejects a header without records and a short record", () => {
      expect(datasetError(() => loadNncCsv(fixture("empty", "x:image,y:label\n"))).code).toBe("bad_format");
      const path = fixture("short", "id,x:image,y:label\n1,img/a.png,0\n2,img/b.png\n");
      const err = datasetError(() => loadNncCsv(path));
      expect([err.code, err.row]).toEqual(["bad_format", 3]);
    });
  });
});
