/**
 * The graph, the parameter store and the training step (lib/gan/graph.ts, params.ts, model.ts) on the cpu backend,
 * with a tiny spec (8×8×1 images, 3 labels) so every forward and backward pass takes milliseconds.
 *
 * The fused label-plane (de)convolution is checked against a naive graph that literally concatenates tiled one-hot
 * planes and calls tf.conv2d / tf.conv2dTranspose with NNC's padding; that naive graph is itself checked against
 * plain loops written from NNC's definitions of Convolution and Deconvolution.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/gan/backend";
import { parseConfig } from "../../lib/gan/config";
import { batchNormTraining, lossFrom } from "../../lib/gan/graph";
import { GanModel, updateRunningStatistics } from "../../lib/gan/model";
import { ParameterStore, UnknownParameterError } from "../../lib/gan/params";
import { resolveSpec, type NetworkSpecInput, type PartName } from "../../lib/gan/spec";
import { GAN_NETWORKS } from "../helpers/spec-fixtures";
import { values } from "../helpers/values";

const L = 3;
const Z = 4;

/**
 * Generator: [4] → ConcatLabel [7] → Affine [2,2,4] → BN → ReLU → ConcatLabel planes [2,2,7] → Deconvolution (k4 s2 p1)
 * [4,4,3] → BN → ReLU → ConcatLabel [4,4,6] → Deconvolution (k4 s2 p1) [8,8,1] → Sigmoid.
 * Discriminator: [8,8,1] → ConcatLabel [8,8,4] → Convolution (k3 s2 p1) [4,4,4] → ReLU → ConcatLabel [4,4,7] →
 * Convolution (k3×2, s1×2, p0×1) [2,3,4] → BN → LeakyReLU → ConcatLabel [2,3,7] (materialised: a Reshape follows) →
 * Reshape [42] → ConcatLabel [45] → Affine [1] → Sigmoid.
 */
const TINY: NetworkSpecInput = {
  name: "tiny",
  z: { size: Z, distribution: "uniform" },
  image: { height: 8, width: 8, channels: 1 },
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
    { type: "Sigmoid" },
  ],
  discriminator: [
    { type: "ConcatLabel" },
    { type: "Convolution", scope: "Convolution", outMaps: 4, kernel: [3, 3], stride: [2, 2], pad: [1, 1] },
    { type: "ReLU" },
    { type: "ConcatLabel" },
    { type: "Convolution", scope: "Convolution_2", outMaps: 4, kernel: [3, 2], stride: [1, 2], pad: [0, 1] },
    { type: "BatchNormalization", scope: "BatchNormalization_3" },
    { type: "LeakyReLU", alpha: 0.2 },
    { type: "ConcatLabel" },
    { type: "Reshape", outShape: [42] },
    { type: "ConcatLabel" },
    { type: "Affine", scope: "Affine_2", outShape: [1] },
    { type: "Sigmoid" },
  ],
  networks: GAN_NETWORKS,
};

const G_SCOPES = ["Affine", "BatchNormalization", "Deconvolution", "BatchNormalization_2", "Deconvolution_2"];
const D_SCOPES = ["Convolution", "Convolution_2", "BatchNormalization_3", "Affine_2"];

const optimizers = () => parseConfig({}).optimizers;

const LABELS = [0, 2, 1, 1, 2];
const N = LABELS.length;

function batch(n = N, seed = 11): { images: Float32Array; labels: Int32Array } {
  const images = values(n * 64, seed).map((v) => (v + 1) / 2);
  return { images, labels: Int32Array.from({ length: n }, (_, i) => LABELS[i % LABELS.length]!) };
}

/** Gives every parameter non-trivial values (biases, beta, running mean ≠ 0; gamma, var ≠ 1). */
function randomise(store: ParameterStore, seed: number): void {
  let k = 0;
  for (const p of store.params.values()) {
    const size = p.def.shape.reduce((a, b) => a * b, 1);
    const v = values(size, seed + k++);
    const scaled = v.map((x) => {
      switch (p.def.name) {
        case "W":
          return 0.6 * x;
        case "gamma":
          return 1 + 0.4 * x;
        case "var":
          return 1 + 0.5 * x;
        default:
          return 0.5 * x;
      }
    });
    tf.tidy(() => p.variable.assign(tf.tensor(scaled, p.def.shape)));
  }
}

const nncPad = (p: [number, number]): [[number, number], [number, number], [number, number], [number, number]] => [
  [0, 0],
  [p[0], p[0]],
  [p[1], p[1]],
  [0, 0],
];

/**
 * The naive graph: label planes are real tensors (one-hot tiled over the map, concatenated after the channels),
 * (de)convolutions see the whole filter, batch variance is computed by hand.
 */
function naivePart(model: GanModel, part: PartName, x: tf.Tensor, labels: number[], training: boolean, logits: boolean): tf.Tensor {
  const { store, resolved } = model;
  const n = x.shape[0]!;
  const onehot = tf.oneHot(tf.tensor1d(labels, "int32"), L).toFloat();
  const infos = resolved.layers[part];
  let h = x;
  infos.forEach((info, i) => {
    const layer = info.layer;
    switch (layer.type) {
      case "ConcatLabel":
        if (h.rank === 2) h = tf.concat([h, onehot], 1);
        else {
          const [, H, W] = h.shape as number[];
          h = tf.concat([h, tf.tile(tf.reshape(onehot, [n, 1, 1, L]), [1, H!, W!, 1])], 3);
        }
        break;
      case "Affine":
        h = tf.reshape(
          tf.add(tf.matMul(tf.reshape(h, [n, -1]) as tf.Tensor2D, store.variable(layer.scope, "W") as tf.Tensor2D), store.variable(layer.scope, "b")),
          [n, ...layer.outShape],
        );
        break;
      case "Convolution":
        h = tf.add(
          tf.conv2d(h as tf.Tensor4D, store.variable(layer.scope, "W") as tf.Tensor4D, layer.stride, nncPad(layer.pad)),
          store.variable(layer.scope, "b"),
        );
        break;
      case "Deconvolution":
        h = tf.add(
          tf.conv2dTranspose(
            h as tf.Tensor4D,
            store.variable(layer.scope, "W") as tf.Tensor4D,
            [n, ...(info.outShape as [number, number, number])],
            layer.stride,
            nncPad(layer.pad),
          ),
          store.variable(layer.scope, "b"),
        );
        break;
      case "BatchNormalization": {
        const axes = h.rank === 2 ? [0] : [0, 1, 2];
        let mean: tf.Tensor;
        let variance: tf.Tensor;
        if (training) {
          mean = tf.mean(h, axes);
          variance = tf.mean(tf.square(tf.sub(h, mean)), axes);
        } else {
          mean = store.variable(layer.scope, "mean");
          variance = store.variable(layer.scope, "var");
        }
        h = tf.add(
          tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, layer.epsilon))), store.variable(layer.scope, "gamma")),
          store.variable(layer.scope, "beta"),
        );
        break;
      }
      case "ReLU":
        h = tf.relu(h);
        break;
      case "LeakyReLU":
        h = tf.maximum(h, tf.mul(h, layer.alpha));
        break;
      case "Sigmoid":
        if (!(logits && i === infos.length - 1)) h = tf.sigmoid(h);
        break;
      case "Tanh":
        h = tf.tanh(h);
        break;
      case "Reshape":
        h = tf.reshape(h, [n, ...layer.outShape]);
        break;
    }
  });
  return h;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Runs f in a tidy and returns its output's shape and values. */
function run(f: () => tf.Tensor): { shape: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const t = f();
    return { shape: t.shape, data: t.dataSync() as Float32Array };
  });
}

async function readAll(model: GanModel): Promise<Map<string, Float32Array>> {
  return model.store.read();
}

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

beforeAll(async () => {
  const info = await initBackend("cpu");
  expect(info.name).toBe("cpu");
});

describe("the naive reference follows NNC's definitions (plain loops)", () => {
  /** NNC Convolution: y[o, oy, ox] = Σ_{c,i,j} x[c, oy·s − p + i, ox·s − p + j] · W[o, c, i, j] (HWC here, tfjs filter layout). */
  function loopConv(x: Float32Array, [H, W, C]: number[], w: Float32Array, [kh, kw, , O]: number[], s: number[], p: number[]) {
    const oh = Math.floor((H! + 2 * p[0]! - kh!) / s[0]!) + 1;
    const ow = Math.floor((W! + 2 * p[1]! - kw!) / s[1]!) + 1;
    const out = new Float32Array(oh * ow * O!);
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let o = 0; o < O!; o++) {
          let sum = 0;
          for (let i = 0; i < kh!; i++)
            for (let j = 0; j < kw!; j++) {
              const y = oy * s[0]! - p[0]! + i;
              const xx = ox * s[1]! - p[1]! + j;
              if (y < 0 || y >= H! || xx < 0 || xx >= W!) continue;
              for (let c = 0; c < C!; c++) sum += x[(y * W! + xx) * C! + c]! * w[((i * kw! + j) * C! + c) * O! + o]!;
            }
          out[(oy * ow + ox) * O! + o] = sum;
        }
    return { shape: [oh, ow, O!], data: out };
  }

  /** NNC Deconvolution (the adjoint of Convolution): y[o, iy·s − p + i, ix·s − p + j] += x[c, iy, ix] · W[c, o, i, j]. */
  function loopDeconv(x: Float32Array, [H, W, C]: number[], w: Float32Array, [kh, kw, O]: number[], s: number[], p: number[]) {
    const oh = (H! - 1) * s[0]! - 2 * p[0]! + kh!;
    const ow = (W! - 1) * s[1]! - 2 * p[1]! + kw!;
    const out = new Float32Array(oh * ow * O!);
    for (let iy = 0; iy < H!; iy++)
      for (let ix = 0; ix < W!; ix++)
        for (let c = 0; c < C!; c++)
          for (let i = 0; i < kh!; i++)
            for (let j = 0; j < kw!; j++) {
              const y = iy * s[0]! - p[0]! + i;
              const xx = ix * s[1]! - p[1]! + j;
              if (y < 0 || y >= oh || xx < 0 || xx >= ow) continue;
              // tfjs conv2dTranspose filter: [kh, kw, out, in]
              for (let o = 0; o < O!; o++) out[(y * ow + xx) * O! + o]! += x[(iy * W! + ix) * C! + c]! * w[((i * kw! + j) * O! + o) * C! + c]!;
            }
    return { shape: [oh, ow, O!], data: out };
  }

  it("tf.conv2d with [[0,0],[p,p],[q,q],[0,0]] is NNC's Convolution (asymmetric kernel, stride and pad)", () => {
    const xs = [5, 6, 3];
    const ws = [3, 2, 3, 2];
    const x = values(90, 1);
    const w = values(36, 2);
    const ref = loopConv(x, xs, w, ws, [2, 1], [1, 0]);
    const got = run(() => tf.conv2d(tf.tensor4d(x, [1, 5, 6, 3]), tf.tensor4d(w, ws as [number, number, number, number]), [2, 1], nncPad([1, 0])));
    expect(got.shape).toEqual([1, ...ref.shape]);
    expect(ref.shape).toEqual([3, 5, 2]);
    expect(maxAbsDiff(got.data, ref.data)).toBeLessThan(1e-5);
  });

  it("tf.conv2dTranspose with [[0,0],[p,p],[q,q],[0,0]] is NNC's Deconvolution (k4 s2 p1 and k5×6 s2×1 p2×1)", () => {
    for (const [xs, k, s, p] of [
      [
        [3, 3, 2],
        [4, 4],
        [2, 2],
        [1, 1],
      ],
      [
        [4, 3, 2],
        [5, 6],
        [2, 1],
        [2, 1],
      ],
    ] as [number[], number[], number[], number[]][]) {
      const O = 3;
      const x = values(
        xs.reduce((a, b) => a * b, 1),
        3,
      );
      const wShape = [k[0]!, k[1]!, O, xs[2]!] as [number, number, number, number];
      const w = values(
        wShape.reduce((a, b) => a * b, 1),
        4,
      );
      const ref = loopDeconv(x, xs, w, wShape, s, p);
      const got = run(() =>
        tf.conv2dTranspose(
          tf.tensor4d(x, [1, ...xs] as [number, number, number, number]),
          tf.tensor4d(w, wShape),
          [1, ...ref.shape] as [number, number, number, number],
          s as [number, number],
          nncPad(p as [number, number]),
        ),
      );
      expect(got.shape).toEqual([1, ...ref.shape]);
      expect(maxAbsDiff(got.data, ref.data)).toBeLessThan(1e-5);
    }
  });
});

describe("fused label planes equal the naive concatenation", () => {
  let model: GanModel;
  const z = () => tf.tensor2d(values(N * Z, 5), [N, Z]);
  const images = () => tf.tensor4d(batch().images, [N, 8, 8, 1]);

  beforeAll(() => {
    model = new GanModel(TINY, 7, optimizers());
    randomise(model.store, 100);
  });

  it("has the tiny spec's shapes", () => {
    const r = model.resolved;
    expect(r.layers.generator.map((l) => l.outShape.join("×"))).toEqual([
      "7",
      "2×2×4",
      "2×2×4",
      "2×2×4",
      "2×2×7",
      "4×4×3",
      "4×4×3",
      "4×4×3",
      "4×4×6",
      "8×8×1",
      "8×8×1",
    ]);
    expect(r.layers.discriminator.map((l) => l.outShape.join("×"))).toEqual([
      "8×8×4",
      "4×4×4",
      "4×4×4",
      "4×4×7",
      "2×3×4",
      "2×3×4",
      "2×3×4",
      "2×3×7",
      "42",
      "45",
      "1",
      "1",
    ]);
    expect(model.store.variable("Deconvolution", "W").shape).toEqual([4, 4, 3, 7]);
    expect(model.store.variable("Convolution_2", "W").shape).toEqual([3, 2, 7, 4]);
  });

  for (const training of [true, false]) {
    for (const logits of [true, false]) {
      it(`generator, ${training ? "batch statistics" : "running statistics"}, ${logits ? "logits" : "after Sigmoid"}`, () => {
        const fused = run(() => model.graph.runPart("generator", z(), model.graph.oneHot(LABELS), { training }, logits));
        const naive = run(() => naivePart(model, "generator", z(), LABELS, training, logits));
        expect(fused.shape).toEqual([N, 8, 8, 1]);
        expect(naive.shape).toEqual([N, 8, 8, 1]);
        expect(maxAbs(naive.data)).toBeGreaterThan(0.05); // the comparison is not between zeros
        expect(maxAbsDiff(fused.data, naive.data)).toBeLessThan(1e-5);
      });

      it(`discriminator, ${training ? "batch statistics" : "running statistics"}, ${logits ? "logits" : "after Sigmoid"}`, () => {
        const fused = run(() => model.graph.runPart("discriminator", images(), model.graph.oneHot(LABELS), { training }, logits));
        const naive = run(() => naivePart(model, "discriminator", images(), LABELS, training, logits));
        expect(fused.shape).toEqual([N, 1]);
        expect(maxAbsDiff(fused.data, naive.data)).toBeLessThan(1e-5);
        // labels matter: another label gives another output
        const other = run(() => model.graph.runPart("discriminator", images(), model.graph.oneHot([1, 0, 2, 0, 1]), { training }, logits));
        expect(maxAbsDiff(fused.data, other.data)).toBeGreaterThan(1e-4);
      });
    }
  }

  it("generator → discriminator, as DiscriminatorFake runs it", () => {
    const fused = run(() => {
      const oh = model.graph.oneHot(LABELS);
      return model.graph.runPart("discriminator", model.graph.runPart("generator", z(), oh, { training: true }), oh, { training: true }, true);
    });
    const naive = run(() => naivePart(model, "discriminator", naivePart(model, "generator", z(), LABELS, true, false), LABELS, true, true));
    expect(maxAbsDiff(fused.data, naive.data)).toBeLessThan(1e-5);
  });

  /** Gradients of Σ r·out with respect to every trainable parameter, fused and naive. */
  function gradients(part: PartName, naive: boolean): Map<string, Float32Array> {
    const vars = [...model.store.params.values()].filter((p) => p.def.trainable && p.def.part === part);
    const out = new Map<string, Float32Array>();
    tf.tidy(() => {
      const x = part === "generator" ? z() : images();
      const n = x.shape[0]!;
      const r = tf.tensor(values(n * (part === "generator" ? 64 : 1), 9), part === "generator" ? [n, 8, 8, 1] : [n, 1]);
      const f = () =>
        tf.sum(
          tf.mul(naive ? naivePart(model, part, x, LABELS, true, true) : model.graph.runPart(part, x, model.graph.oneHot(LABELS), { training: true }, true), r),
        ) as tf.Scalar;
      const { grads } = tf.variableGrads(
        f,
        vars.map((p) => p.variable),
      );
      for (const p of vars) out.set(p.key, grads[p.variable.name]!.dataSync() as Float32Array);
    });
    return out;
  }

  for (const part of ["discriminator", "generator"] as const) {
    it(`gradients of every ${part} parameter, label-plane filter slices included`, () => {
      const fused = gradients(part, false);
      const naive = gradients(part, true);
      expect([...fused.keys()].sort()).toEqual([...naive.keys()].sort());
      for (const [key, g] of naive) {
        const scale = Math.max(1, maxAbs(g));
        expect(maxAbsDiff(fused.get(key)!, g) / scale, key).toBeLessThan(1e-5);
      }
      const convW = part === "discriminator" ? naive.get("Convolution/W")! : naive.get("Deconvolution/W")!;
      expect(maxAbs(convW)).toBeGreaterThan(1e-3);
      // the label planes' part of the filter gets a gradient too: Convolution/W is [3,3,4,4], channels 1..3 are labels
      if (part === "discriminator") {
        const labelSlice = convW.filter((_, i) => Math.floor(i / 4) % 4 >= 1);
        expect(maxAbs(labelSlice)).toBeGreaterThan(1e-3);
      }
    });
  }
});

describe("ParameterStore", () => {
  it("holds one variable per scope and parameter, initialised as documented and from the seed", async () => {
    const r = resolveSpec(TINY);
    const a = new ParameterStore(r, 5);
    const b = new ParameterStore(r, 5);
    const c = new ParameterStore(r, 6);
    try {
      expect(a.params.size).toBe(r.parameters.length);
      expect(a.scopeNames()).toEqual([...G_SCOPES, ...D_SCOPES]);
      const va = await a.read();
      const vb = await b.read();
      const vc = await c.read();
      for (const def of r.parameters) {
        const key = `${def.scope}/${def.name}`;
        const v = va.get(key)!;
        expect(a.variable(def.scope, def.name).shape).toEqual(def.shape);
        expect(a.variable(def.scope, def.name).trainable).toBe(def.trainable);
        if (def.name === "W") {
          expect(same(v, vb.get(key)!), key).toBe(true);
          expect(same(v, vc.get(key)!), key).toBe(false);
          expect(maxAbs(v)).toBeGreaterThan(0);
        } else {
          expect([...new Set(v)], key).toEqual([def.name === "gamma" || def.name === "var" ? 1 : 0]);
        }
      }
      // Glorot-normal: std √(2 / (fanIn + fanOut)); Affine/W is [7, 16]: std √(2/23) ≈ 0.295
      const w = va.get("Affine/W")!;
      const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
      expect(std).toBeGreaterThan(0.2);
      expect(std).toBeLessThan(0.4);
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });

  it("the Generator and DiscriminatorFake networks read the same variables", () => {
    const model = new GanModel(TINY, 3, optimizers());
    try {
      const affineW = model.store.variable("Affine", "W");
      const convW = model.store.variable("Convolution", "W");
      expect(model.store.variable("Affine", "W")).toBe(affineW);
      expect(model.trainedBy("Generator").map((p) => p.variable)).toContain(affineW);
      expect(model.trainedBy("DiscriminatorFake").map((p) => p.variable)).toContain(convW);
      expect(model.trainedBy("DiscriminatorReal").map((p) => p.variable)).toContain(convW);
      expect(model.trainedBy("Generator").map((p) => p.variable)).not.toContain(convW);
      expect(model.trainedBy("DiscriminatorFake").map((p) => p.variable)).not.toContain(affineW);
      // Each network's loss has a gradient with respect to that very variable object, so each one reads it.
      const zz = tf.tensor2d(values(N * Z, 21), [N, Z]);
      const im = tf.tensor4d(batch().images, [N, 8, 8, 1]);
      const gradNorm = (net: "Generator" | "DiscriminatorFake" | "DiscriminatorReal", v: tf.Variable) =>
        tf.tidy(() => {
          const { grads } = tf.variableGrads(() => model.evaluateLoss(net, net === "DiscriminatorReal" ? im : zz, LABELS), [v]);
          return maxAbs(grads[v.name]!.dataSync());
        });
      expect(gradNorm("Generator", affineW)).toBeGreaterThan(0);
      expect(gradNorm("DiscriminatorFake", affineW)).toBeGreaterThan(0);
      expect(gradNorm("Generator", convW)).toBeGreaterThan(0);
      expect(gradNorm("DiscriminatorFake", convW)).toBeGreaterThan(0);
      expect(gradNorm("DiscriminatorReal", convW)).toBeGreaterThan(0);
      // and a change to the variable shows in both networks
      const before = ["Generator", "DiscriminatorFake"].map((n) => tf.tidy(() => model.evaluateLoss(n as "Generator", zz, LABELS).dataSync()[0]!));
      tf.tidy(() => affineW.assign(tf.mul(affineW, 3)));
      const after = ["Generator", "DiscriminatorFake"].map((n) => tf.tidy(() => model.evaluateLoss(n as "Generator", zz, LABELS).dataSync()[0]!));
      expect(after[0]).not.toBe(before[0]);
      expect(after[1]).not.toBe(before[1]);
      tf.dispose([zz, im]);
    } finally {
      model.dispose();
    }
  });

  it("two layers naming one scope share one set of parameters", () => {
    const spec = structuredClone(TINY) as { discriminator: Record<string, unknown>[] };
    // a second Convolution [3,3,4,4] right after the first one, with the same scope
    spec.discriminator.splice(3, 0, { type: "Convolution", scope: "Convolution", outMaps: 4, kernel: [3, 3], stride: [1, 1], pad: [1, 1] });
    const r = resolveSpec(spec as NetworkSpecInput);
    expect(r.parameters.filter((p) => p.scope === "Convolution").map((p) => `${p.name} ${p.shape.join("×")}`)).toEqual(["W 3×3×4×4", "b 4"]);
    const store = new ParameterStore(r, 1);
    expect(store.params.size).toBe(resolveSpec(TINY).parameters.length);
    store.dispose();
  });

  it("setLrMultiplier: returns the old value, rejects unknown scopes (listing the known ones), mean/var and negatives", () => {
    const store = new ParameterStore(resolveSpec(TINY), 1);
    try {
      expect(store.setLrMultiplier("Affine", "W", 0.5)).toBe(1);
      expect(store.setLrMultiplier("Affine", "W", 0)).toBe(0.5);
      expect(store.get("Affine", "W").lrMultiplier).toBe(0);
      expect(store.lrMultipliers().Affine).toEqual({ W: 0, b: 1 });
      expect(store.lrMultipliers().BatchNormalization).toEqual({ beta: 1, gamma: 1 });
      expect(() => store.setLrMultiplier("Affine_9", "W", 0)).toThrow(UnknownParameterError);
      expect(() => store.setLrMultiplier("Affine_9", "W", 0)).toThrow(
        "unknown parameter Affine_9/W; the ParameterScopes are Affine, BatchNormalization, Deconvolution, BatchNormalization_2, Deconvolution_2, Convolution, Convolution_2, BatchNormalization_3, Affine_2",
      );
      expect(() => store.setLrMultiplier("BatchNormalization", "mean", 0)).toThrow(UnknownParameterError);
      expect(() => store.setLrMultiplier("BatchNormalization", "var", 1)).toThrow(UnknownParameterError);
      expect(() => store.setLrMultiplier("Affine", "gamma", 1)).toThrow(UnknownParameterError); // Affine has no gamma
      expect(() => store.setLrMultiplier("Affine", "W", -1)).toThrow(RangeError);
      expect(() => store.setLrMultiplier("Affine", "W", Number.NaN)).toThrow(RangeError);
      expect(store.get("Affine", "W").lrMultiplier).toBe(0); // failed calls changed nothing
      expect(store.get("BatchNormalization", "mean").lrMultiplier).toBe(0);
    } finally {
      store.dispose();
    }
  });
});

describe("GanModel.trainStep", () => {
  const dTrainable = (m: GanModel) => [...m.store.params.values()].filter((p) => p.def.part === "discriminator" && p.def.trainable);

  it("updates both G and D weights and returns finite losses", async () => {
    const model = new GanModel(TINY, 3, optimizers());
    try {
      const before = await readAll(model);
      const losses = await model.trainStep(batch(), 0);
      for (const v of [losses.Real, losses.Fake, losses.GReal]) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(0);
      }
      const after = await readAll(model);
      for (const key of [
        "Affine/W",
        "Deconvolution/W",
        "Deconvolution_2/W",
        "BatchNormalization/gamma",
        "Convolution/W",
        "Convolution_2/W",
        "Affine_2/W",
        "BatchNormalization_3/beta",
      ]) {
        expect(same(before.get(key)!, after.get(key)!), key).toBe(false);
      }
      // the first Adam step moves a parameter by at most about α (0.0005) per value
      const dw = maxAbsDiff(before.get("Affine_2/W")!, after.get("Affine_2/W")!);
      expect(dw).toBeGreaterThan(1e-4);
      expect(dw).toBeLessThan(2 * 0.0005 + 1e-6); // updated by DiscriminatorReal and DiscriminatorFake
    } finally {
      model.dispose();
    }
  });

  it("is deterministic: same seed, same batch, same iteration → bit-identical weights", async () => {
    const a = new GanModel(TINY, 3, optimizers());
    const b = new GanModel(TINY, 3, optimizers());
    try {
      const la = await a.trainStep(batch(), 4);
      const lb = await b.trainStep(batch(), 4);
      expect(la).toEqual(lb);
      const va = await a.store.read();
      const vb = await b.store.read();
      for (const [k, v] of va) expect(same(v, vb.get(k)!), k).toBe(true);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it("with every discriminator LRateMultiplier 0, leaves every trained D parameter bit-identical while G changes", async () => {
    const model = new GanModel(TINY, 3, optimizers());
    try {
      for (const p of dTrainable(model)) model.store.setLrMultiplier(p.def.scope, p.def.name, 0);
      expect(model.trainedBy("DiscriminatorReal")).toEqual([]);
      expect(model.trainedBy("DiscriminatorFake")).toEqual([]);
      const before = await readAll(model);
      const losses = await model.trainStep(batch(), 0);
      expect(Number.isFinite(losses.Real) && Number.isFinite(losses.Fake)).toBe(true);
      const after = await readAll(model);
      const keys = dTrainable(model).map((p) => p.key);
      expect(keys).toHaveLength(8);
      for (const key of keys) expect(same(before.get(key)!, after.get(key)!), key).toBe(true);
      for (const key of ["Affine/W", "Deconvolution/W", "Deconvolution_2/W"]) expect(same(before.get(key)!, after.get(key)!), key).toBe(false);
    } finally {
      model.dispose();
    }
  });

  it("an LRateMultiplier 0 on Affine/W alone freezes it", async () => {
    const model = new GanModel(TINY, 3, optimizers());
    try {
      model.store.setLrMultiplier("Affine", "W", 0);
      expect(model.trainedBy("Generator").map((p) => p.key)).not.toContain("Affine/W");
      const before = await readAll(model);
      await model.trainStep(batch(), 0);
      await model.trainStep(batch(N, 12), 1);
      const after = await readAll(model);
      expect(same(before.get("Affine/W")!, after.get("Affine/W")!)).toBe(true);
      for (const key of ["Deconvolution/W", "Deconvolution_2/W", "BatchNormalization/gamma", "Convolution/W"]) {
        expect(same(before.get(key)!, after.get(key)!), key).toBe(false);
      }
    } finally {
      model.dispose();
    }
  });

  it("moves BatchNormalization's running mean and variance (decay 0.9) in both parts", async () => {
    const model = new GanModel(TINY, 3, optimizers());
    try {
      await model.trainStep(batch(), 0);
      const after = await readAll(model);
      for (const scope of ["BatchNormalization", "BatchNormalization_2", "BatchNormalization_3"]) {
        const mean = after.get(`${scope}/mean`)!;
        const variance = after.get(`${scope}/var`)!;
        expect(maxAbs(mean), scope).toBeGreaterThan(0);
        expect(maxAbsDiff(variance, new Float32Array(variance.length).fill(1)), scope).toBeGreaterThan(0);
        // one or two updates from 1 with decay 0.9: var stays within [0.81, 1) + 0.19·batchVar
        for (const v of variance) expect(v).toBeGreaterThan(0.8);
      }
    } finally {
      model.dispose();
    }
  });

  it("takes the unbiased batch variance into the running variance, as nnabla does", async () => {
    const store = new ParameterStore(resolveSpec(TINY), 3);
    const scope = "BatchNormalization";
    store.variable(scope, "mean").assign(tf.tensor1d(new Array(store.variable(scope, "mean").size).fill(0.5)));
    const channels = store.variable(scope, "var").size;
    // A batch whose biased variance is 2 over 4 values per channel: the unbiased one is 2·4/3.
    const u = { scope, decayRate: 0.9, mean: tf.fill([channels], 3), variance: tf.fill([channels], 2), count: 4 };
    updateRunningStatistics(store, u);
    const mean = await store.variable(scope, "mean").data();
    const variance = await store.variable(scope, "var").data();
    for (const m of mean) expect(m).toBeCloseTo(0.9 * 0.5 + 0.1 * 3, 6);
    for (const v of variance) expect(v).toBeCloseTo(0.9 * 1 + 0.1 * ((2 * 4) / 3), 6);
    tf.dispose([u.mean, u.variance]);
    store.dispose();
  });

  it("leaks no tensors: as many after 20 steps as after the first", async () => {
    const model = new GanModel(TINY, 3, optimizers());
    try {
      const b = batch();
      await model.trainStep(b, 0);
      const count = tf.memory().numTensors;
      for (let i = 1; i <= 20; i++) await model.trainStep(b, i);
      expect(tf.memory().numTensors).toBe(count);
      // and with a frozen discriminator (the no-gradient path)
      for (const p of dTrainable(model)) model.store.setLrMultiplier(p.def.scope, p.def.name, 0);
      await model.trainStep(b, 21);
      await model.trainStep(b, 22);
      expect(tf.memory().numTensors).toBe(count);
    } finally {
      model.dispose();
    }
  });
});

describe("batchNormTraining (BatchNormalization with its gradient written out)", () => {
  /** The op-by-op formula the closed form replaces, differentiated by tfjs. */
  const byOps = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, axes: number[], eps: number) => {
    const { mean, variance } = tf.moments(x, axes);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
  };
  for (const [shape, axes] of [
    [
      [6, 5, 4, 3],
      [0, 1, 2],
    ],
    [[9, 7], [0]],
  ] as const) {
    it(`[${shape.join(", ")}]: same value and gradients for x, γ and β as the op-by-op formula, and the moments it reports`, () => {
      const size = shape.reduce((a, c) => a * c, 1);
      const C = shape.at(-1)!;
      const x = tf.tensor(
        values(size, 41).map((v, i) => 3 * v + (i % C)),
        [...shape],
      ); // a mean away from 0
      const g = tf.tensor1d(values(C, 42).map((v) => 1 + v));
      const b = tf.tensor1d(values(C, 43));
      const dy = tf.tensor(values(size, 44), [...shape]);
      const loss = (f: typeof byOps) => (xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => tf.sum(tf.mul(f(xs, gs, bs, [...axes], 0.01), dy));
      const reported: tf.Tensor[] = [];
      const closed = (xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor, ax: number[], eps: number) =>
        batchNormTraining(xs, gs, bs, ax, eps, (m, v) => reported.push(tf.keep(tf.clone(m)), tf.keep(tf.clone(v))));
      const expected = tf.grads(loss(byOps))([x, g, b]);
      const actual = tf.grads(loss(closed))([x, g, b]);
      for (let i = 0; i < 3; i++) {
        const e = expected[i]!.dataSync();
        const a = actual[i]!.dataSync();
        const scale = Math.max(1, ...Array.from(e, Math.abs));
        expect(Math.max(...Array.from(e, (v, j) => Math.abs(v - a[j]!))) / scale).toBeLessThan(1e-5);
      }
      const value = tf.sub(byOps(x, g, b, [...axes], 0.01), closed(x, g, b, [...axes], 0.01));
      expect(tf.max(tf.abs(value)).dataSync()[0]).toBeLessThan(1e-5);
      const { mean, variance } = tf.moments(x, [...axes]);
      expect(Array.from(reported[0]!.dataSync())).toEqual(Array.from(mean.dataSync()));
      expect(Array.from(reported[1]!.dataSync())).toEqual(Array.from(variance.dataSync()));
      tf.dispose([x, g, b, dy, value, mean, variance, ...expected, ...actual, ...reported]);
    });
  }
});

describe("lossFrom", () => {
  const logits = [-4, -1.5, -0.2, 0, 0.7, 3, 6];
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const loss = (type: "BinaryCrossEntropy" | "SquaredError" | "Hinge", target: 0 | 1, sigmoidEnd = true, xs = logits) =>
    tf.tidy(() => lossFrom(tf.tensor2d(xs, [xs.length, 1]), { type, target }, sigmoidEnd).dataSync()[0]!);

  it("BinaryCrossEntropy from logits = −mean(t·log σ(l) + (1−t)·log(1−σ(l)))", () => {
    for (const t of [0, 1] as const) {
      const expected = -mean(logits.map((l) => t * Math.log(sigmoid(l)) + (1 - t) * Math.log(1 - sigmoid(l))));
      expect(loss("BinaryCrossEntropy", t)).toBeCloseTo(expected, 5);
    }
    expect(loss("BinaryCrossEntropy", 1, true, [0])).toBeCloseTo(Math.LN2, 6);
  });

  it("BinaryCrossEntropy stays finite where σ saturates (logit ±100)", () => {
    expect(loss("BinaryCrossEntropy", 0, true, [100, 0])).toBeCloseTo((100 + Math.LN2) / 2, 4);
    expect(loss("BinaryCrossEntropy", 1, true, [-100, 100])).toBeCloseTo(50, 4);
  });

  it("SquaredError = mean((σ(l) − t)²) after a Sigmoid, mean((l − t)²) without", () => {
    for (const t of [0, 1] as const) {
      expect(loss("SquaredError", t, true)).toBeCloseTo(mean(logits.map((l) => (sigmoid(l) - t) ** 2)), 5);
      expect(loss("SquaredError", t, false)).toBeCloseTo(mean(logits.map((l) => (l - t) ** 2)), 4);
    }
  });

  it("Hinge: real mean(relu(1 − D)), fake mean(relu(1 + D))", () => {
    expect(loss("Hinge", 1)).toBeCloseTo(mean(logits.map((l) => Math.max(0, 1 - l))), 5);
    expect(loss("Hinge", 0)).toBeCloseTo(mean(logits.map((l) => Math.max(0, 1 + l))), 5);
    expect(loss("Hinge", 1, true, [2, 3])).toBe(0);
  });
});
