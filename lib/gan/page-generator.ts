/**
 * The RuntimeGenerator from the weights the server serves to a page (lib/protocol/generator-weights.ts), for a page
 * (or any TensorFlow.js backend) to draw the images itself: the engine's own generator forward pass (lib/gan/graph.ts,
 * BatchNormalization with its running statistics) over a parameter store of the generator's part only, and the same
 * noise as the server (lib/gan/runtime-noise.ts). On the same backend its pixels are the server's exactly.
 *
 * Imports only @tensorflow/tfjs-core and the engine's browser-safe modules (no node: module, no training code), so it
 * can run in a Web Worker. Issue 14's page side (the worker, the panel) is still to come.
 */
import * as tf from "@tensorflow/tfjs-core";
import { GeneratorModelJsonSchema } from "../protocol/generator-weights";
import { Graph } from "./graph";
import { ParameterStore } from "./params";
import { interpolationZs, zsFor } from "./runtime-noise";
import { NetworkSpecSchema, type ResolvedSpec, resolveSpec } from "./spec";
import { unpackWeights } from "./weights-file";

export class PageGeneratorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PageGeneratorError";
  }
}

export interface PagePixels {
  count: number;
  height: number;
  width: number;
  channels: number;
  labels: number[];
  /** Pixels in [0, 1], the images one after another, each HWC. */
  pixels: Float32Array;
}

const MAX_IMAGES = 64;

export class PageGenerator {
  private constructor(
    /** The iteration these weights are of (the server's version). */
    readonly iteration: number,
    readonly resolved: ResolvedSpec,
    private readonly store: ParameterStore,
    private readonly graph: Graph,
  ) {}

  /** From model.json (parsed JSON) and its weights file; a PageGeneratorError says what does not fit. */
  static fromFiles(modelJson: unknown, weights: ArrayBuffer | Uint8Array): PageGenerator {
    const parsed = GeneratorModelJsonSchema.safeParse(modelJson);
    if (!parsed.success) throw new PageGeneratorError(`not the RuntimeGenerator's weights: ${parsed.error.issues[0]?.message ?? "unreadable"}`);
    const meta = parsed.data.userDefinedMetadata;
    const spec = NetworkSpecSchema.safeParse(meta.spec);
    if (!spec.success) throw new PageGeneratorError(`the weights' network spec does not parse: ${spec.error.issues[0]?.message ?? ""}`);
    const full = resolveSpec(spec.data);
    // The generator's part only: the discriminator's parameters never reach a page.
    const resolved: ResolvedSpec = { ...full, parameters: full.parameters.filter((p) => p.part === "generator") };
    const group = parsed.data.weightsManifest[0]!;
    const bytes = weights instanceof Uint8Array ? weights : new Uint8Array(weights);
    const values = unpackWeights(group.weights, bytes);
    if (!values) throw new PageGeneratorError(`the weights file has ${bytes.length} bytes, model.json describes another size`);
    const store = new ParameterStore(resolved, meta.seed);
    try {
      store.write(new Map([...values].map(([name, t]) => [name, t.values])));
    } catch (e) {
      store.dispose();
      throw new PageGeneratorError((e as Error).message);
    }
    return new PageGenerator(meta.iteration, resolved, store, new Graph(resolved, store));
  }

  get numLabels(): number {
    return this.resolved.spec.numLabels;
  }

  private check(label: number, count: number): void {
    if (!Number.isInteger(label) || label < 0 || label >= this.numLabels) {
      throw new PageGeneratorError(`label must be an integer from 0 to ${this.numLabels - 1}, got ${label}`);
    }
    if (!Number.isInteger(count) || count < 1 || count > MAX_IMAGES)
      throw new PageGeneratorError(`count must be an integer from 1 to ${MAX_IMAGES}, got ${count}`);
  }

  private static seed(name: string, seed: number): number {
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw new PageGeneratorError(`${name} must be an integer from 0 to 2^32 − 1, got ${seed}`);
    return seed;
  }

  /** `count` images of one label from `seed`: the server's RuntimeGenerator's images for the same request. */
  async generate(req: { label: number; seed: number; count?: number }): Promise<PagePixels> {
    const count = req.count ?? 1;
    this.check(req.label, count);
    return this.render(zsFor(this.resolved.spec.z, PageGenerator.seed("seed", req.seed), count), new Array<number>(count).fill(req.label));
  }

  /** `steps` images walking from seed A to seed B, one label (the server's interpolation strip). */
  async interpolate(req: { label: number; seedA: number; seedB: number; steps: number }): Promise<PagePixels> {
    this.check(req.label, req.steps);
    if (req.steps < 2) throw new PageGeneratorError(`steps must be an integer from 2 to ${MAX_IMAGES}, got ${req.steps}`);
    const zs = interpolationZs(this.resolved.spec.z, PageGenerator.seed("seedA", req.seedA), PageGenerator.seed("seedB", req.seedB), req.steps);
    return this.render(zs, new Array<number>(req.steps).fill(req.label));
  }

  private async render(zs: Float32Array, labels: number[]): Promise<PagePixels> {
    const { height, width, channels } = this.resolved.spec.image;
    const count = labels.length;
    const out = tf.tidy(() => {
      const z = tf.tensor2d(zs, [count, this.resolved.spec.z.size]);
      return this.graph.toPixels(this.graph.runPart("generator", z, this.graph.oneHot(labels), { training: false }));
    });
    const pixels = (await out.data()) as Float32Array;
    out.dispose();
    return { count, height, width, channels, labels, pixels };
  }

  dispose(): void {
    this.graph.dispose();
    this.store.dispose();
  }
}
