/**
 * The RuntimeGenerator (lib/gan/generator.ts) over a tiny model's live weights on the cpu backend: images from a
 * label and a seed, repeatable and independent of `count`; input errors; interpolation; PNGs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/gan/backend";
import { parseConfig } from "../../lib/gan/config";
import { GenerateError, MAX_GENERATE, RuntimeGenerator } from "../../lib/gan/generator";
import { decodePng } from "../../lib/gan/image";
import { GanModel } from "../../lib/gan/model";
import type { NetworkSpecInput } from "../../lib/gan/spec";
import { GAN_NETWORKS } from "../helpers/spec-fixtures";

const L = 3;
const Z = 4;
const H = 8;
const W = 8;

/** 8×8×1 images, 3 labels, z of 4: the generator has label planes before both Deconvolutions. */
const tinySpec = (distribution: "uniform" | "normal"): NetworkSpecInput => ({
  name: `tiny-${distribution}`,
  z: { size: Z, distribution },
  image: { height: H, width: W, channels: 1 },
  numLabels: L,
  generator: [
    { type: "ConcatLabel" },
    { type: "Affine", scope: "Affine", outShape: [2, 2, 4] },
    { type: "BatchNormalization", scope: "BatchNormalization" },
    { type: "ReLU" },
    { type: "ConcatLabel" },
    { type: "Deconvolution", scope: "Deconvolution", outMaps: 3, kernel: [4, 4], stride: [2, 2], pad: [1, 1] },
    { type: "BatchNormalization", scope: "BatchNormalization_2" },
    { type: "ReLU" },
    { type: "ConcatLabel" },
    { type: "Deconvolution", scope: "Deconvolution_2", outMaps: 1, kernel: [4, 4], stride: [2, 2], pad: [1, 1] },
    distribution === "uniform" ? { type: "Sigmoid" } : { type: "Tanh" },
  ],
  discriminator: [
    { type: "ConcatLabel" },
    { type: "Convolution", scope: "Convolution", outMaps: 4, kernel: [3, 3], stride: [2, 2], pad: [1, 1] },
    { type: "LeakyReLU", alpha: 0.2 },
    { type: "Reshape", outShape: [64] },
    { type: "ConcatLabel" },
    { type: "Affine", scope: "Affine_2", outShape: [1] },
    { type: "Sigmoid" },
  ],
  networks: GAN_NETWORKS,
});

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A model trained for two steps on fixed random images, so BatchNormalization's running statistics are not 0 and 1. */
async function trainedModel(distribution: "uniform" | "normal"): Promise<GanModel> {
  const model = new GanModel(tinySpec(distribution), 9, parseConfig({}).optimizers);
  const n = 6;
  const images = Float32Array.from({ length: n * H * W }, (_, i) => ((i * 37) % 101) / 100);
  const labels = Int32Array.from({ length: n }, (_, i) => i % L);
  await model.trainStep({ images, labels }, 0);
  await model.trainStep({ images, labels }, 1);
  return model;
}

/** Runs f and returns the GenerateError it throws or rejects with (fails the test if there is none, or another error). */
async function generateError(f: () => unknown): Promise<GenerateError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(GenerateError);
    return e as GenerateError;
  }
  throw new Error("expected a GenerateError");
}

let model: GanModel;
let gen: RuntimeGenerator;

beforeAll(async () => {
  expect((await initBackend("cpu")).name).toBe("cpu");
  model = await trainedModel("uniform");
  gen = RuntimeGenerator.live(model);
});

afterAll(() => {
  gen.dispose(); // live: does not own the model
  expect(model.store.params.size).toBeGreaterThan(0);
  model.dispose();
});

describe("generate", () => {
  it("returns count images of the spec's shape, with pixels in [0, 1]", async () => {
    const out = await gen.generate({ label: 1, seed: 3, count: 4 });
    expect(out).toMatchObject({ count: 4, height: H, width: W, channels: 1, labels: [1, 1, 1, 1] });
    expect(out.images).toHaveLength(4);
    expect(out.png).toHaveLength(4);
    for (const img of out.images) {
      expect(img).toHaveLength(H * W);
      for (const v of img) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
    // not a constant image
    expect(Math.max(...out.images[0]!) - Math.min(...out.images[0]!)).toBeGreaterThan(1e-3);
  });

  it("defaults to one image of label 0 from seed 0", async () => {
    const out = await gen.generate({});
    expect(out.count).toBe(1);
    expect(out.labels).toEqual([0]);
    expect(out.images[0]).toEqual((await gen.generate({ label: 0, seed: 0, count: 1 })).images[0]);
  });

  it("gives identical images for the same seed", async () => {
    const a = await gen.generate({ label: 2, seed: 42, count: 3 });
    const b = await gen.generate({ label: 2, seed: 42, count: 3 });
    for (let i = 0; i < 3; i++) expect(Array.from(b.images[i]!)).toEqual(Array.from(a.images[i]!));
    expect(Array.from(b.stripPng)).toEqual(Array.from(a.stripPng));
  });

  it("gives image i of a seed whatever count is", async () => {
    const one = await gen.generate({ label: 1, seed: 7, count: 1 });
    const four = await gen.generate({ label: 1, seed: 7, count: 4 });
    expect(maxAbsDiff(one.images[0]!, four.images[0]!)).toBeLessThan(1e-6);
    // image i is the one from z = zFor(seed, i)
    for (let i = 0; i < 4; i++) {
      const single = await gen.generate({ label: 1, z: [Array.from(gen.zFor(7, i))] });
      expect(maxAbsDiff(single.images[0]!, four.images[i]!), `image ${i}`).toBeLessThan(1e-6);
    }
    // and the images of one seed differ from each other
    expect(maxAbsDiff(four.images[0]!, four.images[1]!)).toBeGreaterThan(1e-4);
  });

  it("gives different images for different seeds, and for different labels", async () => {
    const a = (await gen.generate({ label: 0, seed: 1 })).images[0]!;
    const b = (await gen.generate({ label: 0, seed: 2 })).images[0]!;
    const c = (await gen.generate({ label: 1, seed: 1 })).images[0]!;
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-4);
  });

  it("takes one label per image", async () => {
    const mixed = await gen.generate({ labels: [2, 0, 1], seed: 5 });
    expect(mixed.count).toBe(3);
    expect(mixed.labels).toEqual([2, 0, 1]);
    for (const [i, label] of [2, 0, 1].entries()) {
      const same = (await gen.generate({ label, seed: 5, count: 3 })).images[i]!;
      expect(maxAbsDiff(mixed.images[i]!, same), `image ${i}`).toBeLessThan(1e-6);
    }
  });

  it("draws z from the spec's distribution: uniform in [-1, 1)", () => {
    const z = gen.zFor(3, 0);
    expect(z).toHaveLength(Z);
    for (const v of z) {
      expect(v).toBeGreaterThanOrEqual(-1);
      expect(v).toBeLessThan(1);
    }
    expect(Array.from(gen.zFor(3, 0))).toEqual(Array.from(z));
    expect(Array.from(gen.zFor(3, 1))).not.toEqual(Array.from(z));
  });

  it("leaks no tensors", async () => {
    await gen.generate({ label: 0, seed: 1, count: 2 });
    const before = tf.memory().numTensors;
    await gen.generate({ labels: [0, 1, 2], seed: 1 });
    await gen.interpolate({ label: 1, seedA: 1, seedB: 2, steps: 3 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("accepts MAX_GENERATE (256) images", async () => {
    expect(MAX_GENERATE).toBe(256);
    const out = await gen.generate({ label: 0, seed: 1, count: MAX_GENERATE });
    expect(out.images).toHaveLength(256);
    expect(maxAbsDiff(out.images[255]!, (await gen.generate({ label: 0, z: [Array.from(gen.zFor(1, 255))] })).images[0]!)).toBeLessThan(1e-6);
  });
});

describe("generate rejects bad requests with a GenerateError", () => {
  it("labels out of range or not integers", async () => {
    expect((await generateError(() => gen.generate({ label: 3 }))).message).toBe("label must be an integer from 0 to 2, got 3");
    expect((await generateError(() => gen.generate({ label: -1 }))).message).toBe("label must be an integer from 0 to 2, got -1");
    expect((await generateError(() => gen.generate({ label: 1.5 }))).message).toBe("label must be an integer from 0 to 2, got 1.5");
    expect((await generateError(() => gen.generate({ label: Number.NaN }))).message).toBe("label must be an integer from 0 to 2, got NaN");
    expect((await generateError(() => gen.generate({ labels: [0, 7] }))).message).toBe("label must be an integer from 0 to 2, got 7");
  });

  it("a count of 0, over MAX_GENERATE, or not an integer", async () => {
    expect((await generateError(() => gen.generate({ count: 0 }))).message).toBe("count must be an integer from 1 to 256, got 0");
    expect((await generateError(() => gen.generate({ count: 257 }))).message).toBe("count must be an integer from 1 to 256, got 257");
    expect((await generateError(() => gen.generate({ count: 2.5 }))).message).toBe("count must be an integer from 1 to 256, got 2.5");
    expect((await generateError(() => gen.generate({ labels: [] }))).message).toBe("count must be an integer from 1 to 256, got 0");
  });

  it("labels or z vectors that do not match count", async () => {
    expect((await generateError(() => gen.generate({ labels: [0, 1], count: 3 }))).message).toBe("2 labels for 3 images");
    expect((await generateError(() => gen.generate({ z: [[0, 0, 0, 0]], count: 2 }))).message).toBe("1 z vectors for 2 images");
  });

  it("a z of the wrong length or with a non-finite value", async () => {
    expect((await generateError(() => gen.generate({ z: [[0.1, 0.2, 0.3]] }))).message).toBe("z 0 must be 4 finite numbers, got 3");
    expect(
      (
        await generateError(() =>
          gen.generate({
            z: [
              [0, 0, 0, 0],
              [0, 0, 0, 0, 0],
            ],
          }),
        )
      ).message,
    ).toBe("z 1 must be 4 finite numbers, got 5");
    expect((await generateError(() => gen.generate({ z: [[0, Number.POSITIVE_INFINITY, 0, 0]] }))).message).toMatch(/^z 0 must be 4 finite numbers/);
  });

  it("a seed that is negative, fractional or over 2^32 − 1", async () => {
    for (const seed of [-1, 0.5, 2 ** 32]) {
      expect((await generateError(() => gen.generate({ seed }))).message).toBe(`seed must be an integer from 0 to 2^32 − 1, got ${seed}`);
    }
    expect((await gen.generate({ seed: 2 ** 32 - 1 })).count).toBe(1);
  });

  it("interpolation with a bad label or step count", async () => {
    expect((await generateError(() => gen.interpolate({ label: 5, seedA: 1, seedB: 2, steps: 4 }))).message).toBe(
      "label must be an integer from 0 to 2, got 5",
    );
    expect((await generateError(() => gen.interpolate({ label: 0, seedA: 1, seedB: 2, steps: 1 }))).message).toBe(
      "steps must be an integer from 2 to 64, got 1",
    );
    expect((await generateError(() => gen.interpolate({ label: 0, seedA: 1.5, seedB: 2, steps: 3 }))).message).toBe(
      "seedA must be an integer from 0 to 2^32 − 1, got 1.5",
    );
    expect((await generateError(() => gen.interpolate({ label: 0, seedA: 1, seedB: -1, steps: 3 }))).message).toBe(
      "seedB must be an integer from 0 to 2^32 − 1, got -1",
    );
    expect((await generateError(() => gen.generate({ z: [[0, Number.NaN, 0, 0]] }))).message).toBe("z 0 must be 4 finite numbers, value 1 is NaN");
    expect((await generateError(() => gen.interpolate({ label: 0, seedA: 1, seedB: 2, steps: 65 }))).message).toBe(
      "steps must be an integer from 2 to 64, got 65",
    );
  });
});

describe("interpolate", () => {
  it("starts at seed A's image 0 and ends at seed B's (uniform noise: linear)", async () => {
    const out = await gen.interpolate({ label: 2, seedA: 11, seedB: 12, steps: 5 });
    expect(out.count).toBe(5);
    expect(out.labels).toEqual([2, 2, 2, 2, 2]);
    const a = (await gen.generate({ label: 2, seed: 11 })).images[0]!;
    const b = (await gen.generate({ label: 2, seed: 12 })).images[0]!;
    expect(maxAbsDiff(out.images[0]!, a)).toBeLessThan(1e-6);
    expect(maxAbsDiff(out.images[4]!, b)).toBeLessThan(1e-6);
    expect(maxAbsDiff(out.images[2]!, a)).toBeGreaterThan(1e-5);
    expect(maxAbsDiff(out.images[2]!, b)).toBeGreaterThan(1e-5);
    // the midpoint is the image of the mean z
    const za = gen.zFor(11, 0);
    const zb = gen.zFor(12, 0);
    const mid = (await gen.generate({ label: 2, z: [Array.from(za, (v, i) => 0.5 * v + 0.5 * zb[i]!)] })).images[0]!;
    expect(maxAbsDiff(out.images[2]!, mid)).toBeLessThan(1e-5);
  });

  it("starts and ends at the seeds' images with normal noise (spherical), whose midpoint keeps the norm", async () => {
    const normal = await trainedModel("normal");
    const g = RuntimeGenerator.live(normal);
    try {
      const out = await g.interpolate({ label: 0, seedA: 3, seedB: 4, steps: 3 });
      expect(maxAbsDiff(out.images[0]!, (await g.generate({ label: 0, seed: 3 })).images[0]!)).toBeLessThan(1e-6);
      expect(maxAbsDiff(out.images[2]!, (await g.generate({ label: 0, seed: 4 })).images[0]!)).toBeLessThan(1e-6);
      // slerp midpoint: (a + b) / (2 cos(ω/2))
      const a = g.zFor(3, 0);
      const b = g.zFor(4, 0);
      const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
      const omega = Math.acos(Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0) / (norm(a) * norm(b)));
      const mid = Array.from(a, (v, i) => (v + b[i]!) / (2 * Math.cos(omega / 2)));
      expect(maxAbsDiff(out.images[1]!, (await g.generate({ label: 0, z: [mid] })).images[0]!)).toBeLessThan(1e-5);
      // tanh output mapped back to [0, 1] pixels
      for (const v of out.images[1]!) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    } finally {
      g.dispose();
      normal.dispose();
    }
  });
});

describe("PNGs", () => {
  it("one PNG per image, each decoding to the image (8-bit)", async () => {
    const out = await gen.generate({ label: 1, seed: 8, count: 3 });
    for (let i = 0; i < 3; i++) {
      const png = out.png[i]!;
      expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
      const img = decodePng(png);
      expect([img.width, img.height, img.channels]).toEqual([W, H, 1]);
      expect(maxAbsDiff(img.data, out.images[i]!)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    }
  });

  it("a strip of count·(w+2)+2 × h+4 pixels, with 2 pixels of grey padding around each image", async () => {
    const count = 4;
    const out = await gen.generate({ label: 0, seed: 9, count });
    expect(Array.from(out.stripPng.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    const strip = decodePng(out.stripPng);
    expect(strip.width).toBe(count * (W + 2) + 2);
    expect(strip.height).toBe(H + 4);
    expect(strip.channels).toBe(1);
    const at = (x: number, y: number) => strip.data[y * strip.width + x]!;
    for (let i = 0; i < count; i++) {
      const x0 = 2 + i * (W + 2);
      for (const [x, y] of [
        [0, 0],
        [W - 1, 3],
        [4, H - 1],
      ] as const) {
        expect(Math.abs(at(x0 + x, 2 + y) - out.images[i]![y * W + x]!), `image ${i} (${x}, ${y})`).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
      }
      expect(at(x0 - 1, 5)).toBeCloseTo(128 / 255, 6); // padding between images
    }
    expect(at(0, 0)).toBeCloseTo(128 / 255, 6);
  });

  it("a strip of one image is the image alone (no padding)", async () => {
    const out = await gen.generate({ label: 0, seed: 9 });
    const strip = decodePng(out.stripPng);
    expect([strip.width, strip.height]).toEqual([W, H]);
    expect(Array.from(strip.data)).toEqual(Array.from(decodePng(out.png[0]!).data));
  });
});
