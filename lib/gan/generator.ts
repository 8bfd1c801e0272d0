/**
 * The RuntimeGenerator: images from a label and a seed (or an explicit z), from the live weights of a training
 * model or from a checkpoint. Image i of seed s always comes from the same z, whatever `count` is, so a user's
 * "seed 42" means one picture.
 */
import * as tf from "@tensorflow/tfjs-core";
import { readCheckpoint } from "./checkpoint";
import { encodePng, tileGrid } from "./image";
import { GanModel } from "./model";
import { interpolationZs, zFor, zsFor } from "./runtime-noise";

export interface GenerateRequest {
  /** One label for every image, or one per image. */
  label?: number;
  labels?: number[];
  /** How many images (default 1, or labels.length). */
  count?: number;
  /** Seed for z (default 0); ignored when `z` is given. */
  seed?: number;
  /** Explicit noise vectors, one per image. */
  z?: number[][];
}

export interface GeneratedImages {
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
  labels: number[];
  /** Pixels in [0, 1], one HWC array per image. */
  images: Float32Array[];
  /** One PNG per image. */
  png: Uint8Array[];
  /** All images side by side in one PNG. */
  stripPng: Uint8Array;
}

export class GenerateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GenerateError";
  }
}

export const MAX_GENERATE = 256;

function checkSeed(name: string, seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw new GenerateError(`${name} must be an integer from 0 to 2^32 − 1, got ${seed}`);
  return seed;
}

export class RuntimeGenerator {
  private constructor(
    readonly model: GanModel,
    private readonly owned: boolean,
  ) {}

  /** A RuntimeGenerator over a model's live weights (e.g. the trainer's, between iterations). */
  static live(model: GanModel): RuntimeGenerator {
    return new RuntimeGenerator(model, false);
  }

  /** Loads the weights of a checkpoint folder (optimizer state is not read). */
  static async fromCheckpoint(dir: string): Promise<RuntimeGenerator> {
    const ckpt = await readCheckpoint(dir, { weightsOnly: true });
    const model = new GanModel(ckpt.meta.spec, ckpt.meta.config.seed, ckpt.meta.config.optimizers);
    try {
      model.store.write(ckpt.weights);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return new RuntimeGenerator(model, true);
  }

  get numLabels(): number {
    return this.model.resolved.spec.numLabels;
  }

  get zSize(): number {
    return this.model.resolved.spec.z.size;
  }

  /** z for image `index` of `seed`, from the spec's distribution (lib/gan/runtime-noise.ts, shared with pages). */
  zFor(seed: number, index: number): Float32Array {
    return zFor(this.model.resolved.spec.z, seed, index);
  }

  private checkLabel(l: number): number {
    if (!Number.isInteger(l) || l < 0 || l >= this.numLabels) {
      throw new GenerateError(`label must be an integer from 0 to ${this.numLabels - 1}, got ${l}`);
    }
    return l;
  }

  /** Generates images; throws {@link GenerateError} for a label out of range, a bad count or a z of the wrong size. */
  async generate(req: GenerateRequest): Promise<GeneratedImages> {
    const count = req.count ?? req.labels?.length ?? req.z?.length ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > MAX_GENERATE) {
      throw new GenerateError(`count must be an integer from 1 to ${MAX_GENERATE}, got ${count}`);
    }
    let labels: number[];
    if (req.labels) {
      if (req.labels.length !== count) throw new GenerateError(`${req.labels.length} labels for ${count} images`);
      labels = req.labels.map((l) => this.checkLabel(l));
    } else labels = new Array<number>(count).fill(this.checkLabel(req.label ?? 0));
    const zs = new Float32Array(count * this.zSize);
    if (req.z) {
      if (req.z.length !== count) throw new GenerateError(`${req.z.length} z vectors for ${count} images`);
      req.z.forEach((v, i) => {
        if (v.length !== this.zSize) throw new GenerateError(`z ${i} must be ${this.zSize} finite numbers, got ${v.length}`);
        const bad = v.findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) throw new GenerateError(`z ${i} must be ${this.zSize} finite numbers, value ${bad} is ${v[bad]}`);
        zs.set(v, i * this.zSize);
      });
    } else {
      zs.set(zsFor(this.model.resolved.spec.z, checkSeed("seed", req.seed ?? 0), count));
    }
    return this.render(zs, labels);
  }

  /**
   * `steps` images walking from seed A's z to seed B's z (linear for uniform noise, spherical for normal noise),
   * all with one label.
   */
  async interpolate(req: { label: number; seedA: number; seedB: number; steps: number }): Promise<GeneratedImages> {
    const label = this.checkLabel(req.label);
    if (!Number.isInteger(req.steps) || req.steps < 2 || req.steps > 64) throw new GenerateError(`steps must be an integer from 2 to 64, got ${req.steps}`);
    const zs = interpolationZs(this.model.resolved.spec.z, checkSeed("seedA", req.seedA), checkSeed("seedB", req.seedB), req.steps);
    return this.render(zs, new Array<number>(req.steps).fill(label));
  }

  private async render(zs: Float32Array, labels: number[]): Promise<GeneratedImages> {
    const count = labels.length;
    const [height, width, channels] = this.model.imageShape as [number, number, 1 | 3];
    const pixels = tf.tidy(() => this.model.generatePixels(tf.tensor2d(zs, [count, this.zSize]), labels));
    const data = (await pixels.data()) as Float32Array; // webgpu in Node has no synchronous read
    pixels.dispose();
    const size = height * width * channels;
    const images = Array.from({ length: count }, (_, i) => data.slice(i * size, (i + 1) * size));
    const png = images.map((img) => encodePng({ width, height, channels, data: img }));
    const strip = tileGrid(data, { count, height, width, channels, rows: 1, cols: count, padding: count > 1 ? 2 : 0 });
    return { count, height, width, channels, labels, images, png, stripPng: encodePng(strip) };
  }

  dispose(): void {
    if (this.owned) this.model.dispose();
  }
}
