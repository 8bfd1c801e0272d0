/**
 * The evaluator network: a small CNN that reads which label an image shows, and whose penultimate layer is the
 * feature space of the quality metrics (Fréchet distance, precision/recall, diversity).
 *
 *   image [n, H, W, C] in [0, 1]
 *     → Convolution 16 (5×5, stride 2, same) → ReLU      [n, 14, 14, 16] for MNIST
 *     → Convolution 32 (5×5, stride 2, same) → ReLU      [n, 7, 7, 32]
 *     → reshape → Affine 64 → ReLU = features            [n, 64]
 *     → Affine numLabels = logits                        [n, 10]
 *
 * Plain tf ops and tf.variableGrads (no tfjs-layers), trained with Adam on softmax cross-entropy (α decaying
 * linearly), dropout on the features, and random affine distortions (shift, rotation, scale) as augmentation:
 * the evaluator trains on the ~1,667 held-out images only, so it needs them. Every random draw (initial
 * weights, batch order, distortions, dropout) derives from the training seed, so the same data and options give
 * the same evaluator.
 */
import * as tf from "@tensorflow/tfjs-core";
// Gradients are registered by this import (tfjs-core's Node build has none).
import "../tf-gradients";
import type { ImageDataset } from "../data/dataset";
import { Rng, deriveSeed } from "../rng";
import { DEFAULT_EVALUATOR_EPOCHS } from "./defaults";
import { DiagnosticsStream } from "./streams";

/** The evaluator's architecture, as data (part of the cache key). */
export interface ClassifierSpec {
  /** Changes whenever the forward pass changes in a way the fields below do not say. */
  name: string;
  /** Convolutions in order, each followed by ReLU; 'same' padding. */
  convolutions: { maps: number; kernel: number; stride: number }[];
  /** Units of the penultimate Affine layer (the feature space of the metrics). */
  hidden: number;
  /**
   * One more output after the labels: "not a digit" (index numLabels), trained on synthetic non-digits, so that
   * noise and blobs get features of their own instead of landing among faint real digits.
   */
  reject: boolean;
}

export const DEFAULT_CLASSIFIER_SPEC: ClassifierSpec = {
  name: "evaluator-cnn-v1",
  convolutions: [
    { maps: 16, kernel: 5, stride: 2 },
    { maps: 32, kernel: 5, stride: 2 },
  ],
  hidden: 64,
  reject: true,
};

/** How the evaluator trains (part of the cache key). */
export interface ClassifierTraining {
  epochs: number;
  batchSize: number;
  /** Adam's α at the start; it decays linearly to `finalLearningRate` over the run. */
  learningRate: number;
  finalLearningRate: number;
  /**
   * Augmentation, drawn per image and epoch: a shift of up to `maxShift` pixels in x and y, a rotation of up to
   * `maxRotation` degrees either way, a scale within 1 ± `maxScale` (all 0: the images as they are).
   */
  maxShift: number;
  maxRotation: number;
  maxScale: number;
  /** Dropout on the penultimate features while training (0: none). */
  dropout: number;
  /** With a reject output: share of each batch that is synthetic non-digits ({@link syntheticNegative}). */
  negativeShare: number;
  seed: number;
}

export const DEFAULT_CLASSIFIER_TRAINING: ClassifierTraining = {
  epochs: DEFAULT_EVALUATOR_EPOCHS,
  batchSize: 64,
  learningRate: 0.003,
  finalLearningRate: 0.0002,
  maxShift: 2,
  maxRotation: 12,
  maxScale: 0.1,
  dropout: 0.25,
  negativeShare: 0.125,
  seed: 1,
};

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
  numLabels: number;
}

interface ParamDef {
  name: string;
  shape: number[];
  /** Fan-in for He initialisation (0: a bias, initialised to 0). */
  fanIn: number;
}

/** Parameter names and shapes of a spec for an image shape, in a fixed order (the weights file's order). */
export function classifierParameters(spec: ClassifierSpec, shape: ImageShape): ParamDef[] {
  const defs: ParamDef[] = [];
  let [h, w, c] = [shape.height, shape.width, shape.channels];
  spec.convolutions.forEach((conv, i) => {
    const k = conv.kernel;
    defs.push({ name: `conv${i + 1}/W`, shape: [k, k, c, conv.maps], fanIn: k * k * c });
    defs.push({ name: `conv${i + 1}/b`, shape: [conv.maps], fanIn: 0 });
    h = Math.ceil(h / conv.stride);
    w = Math.ceil(w / conv.stride);
    c = conv.maps;
  });
  const flat = h * w * c;
  defs.push({ name: "hidden/W", shape: [flat, spec.hidden], fanIn: flat });
  defs.push({ name: "hidden/b", shape: [spec.hidden], fanIn: 0 });
  const outputs = shape.numLabels + (spec.reject ? 1 : 0);
  defs.push({ name: "output/W", shape: [spec.hidden, outputs], fanIn: spec.hidden });
  defs.push({ name: "output/b", shape: [outputs], fanIn: 0 });
  return defs;
}

/** What {@link Classifier.predict} reads back for a set of images. */
export interface Predictions {
  count: number;
  /** Predicted label (arg max of the logits) per image; numLabels means "not a digit" (reject output). */
  labels: Int32Array;
  /** Softmax probabilities, count × outputs (numLabels, + 1 with a reject output). */
  probs: Float32Array;
  /** Penultimate-layer features, count × hidden. */
  features: Float32Array;
}

export class Classifier {
  private readonly vars = new Map<string, tf.Variable>();

  /**
   * A classifier with the given weights (by name, as {@link classifierParameters} lists them), or freshly
   * initialised from `seed` (He-normal W, zero b).
   */
  constructor(
    readonly spec: ClassifierSpec,
    readonly shape: ImageShape,
    init: { weights: Map<string, Float32Array> } | { seed: number },
  ) {
    classifierParameters(spec, shape).forEach((def, i) => {
      const size = def.shape.reduce((a, b) => a * b, 1);
      let values: Float32Array;
      if ("weights" in init) {
        const v = init.weights.get(def.name);
        if (!v || v.length !== size) {
          throw new Error(`evaluator weights: ${def.name} needs ${size} values [${def.shape.join(", ")}], got ${v ? v.length : "none"}`);
        }
        values = v;
      } else {
        values = new Float32Array(size);
        if (def.fanIn > 0) new Rng(deriveSeed(init.seed, DiagnosticsStream.evaluatorInit, i)).normal(values, Math.sqrt(2 / def.fanIn));
      }
      // Unnamed: tf variable names are global and two classifiers may live in one process.
      this.vars.set(
        def.name,
        tf.tidy(() => tf.variable(tf.tensor(values, def.shape, "float32"), true)),
      );
    });
  }

  get featureSize(): number {
    return this.spec.hidden;
  }

  get numLabels(): number {
    return this.shape.numLabels;
  }

  /** Outputs: the labels, and "not a digit" last when the spec has a reject output. */
  get outputs(): number {
    return this.shape.numLabels + (this.spec.reject ? 1 : 0);
  }

  /** The trainable variables in weights-file order. */
  variables(): { name: string; variable: tf.Variable }[] {
    return [...this.vars].map(([name, variable]) => ({ name, variable }));
  }

  private v(name: string): tf.Variable {
    return this.vars.get(name)!;
  }

  /** Logits [n, L] and features [n, hidden] of images [n, H, W, C] in [0, 1]. Call inside a tidy. */
  forward(x: tf.Tensor4D, dropMask?: tf.Tensor2D): { logits: tf.Tensor2D; features: tf.Tensor2D } {
    let h: tf.Tensor4D = x;
    this.spec.convolutions.forEach((conv, i) => {
      const W = this.v(`conv${i + 1}/W`) as tf.Tensor4D;
      // [n, H, W, C] -> [n, H/s, W/s, maps]
      h = tf.relu(tf.add(tf.conv2d(h, W, conv.stride, "same"), this.v(`conv${i + 1}/b`))) as tf.Tensor4D;
    });
    const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D; // [n, h·w·c]
    const pre = tf.add(tf.matMul(flat, this.v("hidden/W") as tf.Tensor2D), this.v("hidden/b")) as tf.Tensor2D; // [n, hidden]
    const features = tf.relu(pre) as tf.Tensor2D;
    const kept = dropMask ? (tf.mul(features, dropMask) as tf.Tensor2D) : features;
    const logits = tf.add(tf.matMul(kept, this.v("output/W") as tf.Tensor2D), this.v("output/b")) as tf.Tensor2D; // [n, L]
    return { logits, features };
  }

  /** Predicted labels, probabilities and features of `count` images (NHWC, [0, 1]), in chunks. */
  async predict(images: Float32Array, count: number, chunk = 500): Promise<Predictions> {
    const { height, width, channels } = this.shape;
    const numLabels = this.outputs;
    const size = height * width * channels;
    if (images.length !== count * size) throw new RangeError(`predict: ${images.length} values for ${count} images of ${size}`);
    const labels = new Int32Array(count);
    const probs = new Float32Array(count * numLabels);
    const features = new Float32Array(count * this.spec.hidden);
    for (let start = 0; start < count; start += chunk) {
      const n = Math.min(chunk, count - start);
      const [p, f] = tf.tidy(() => {
        const x = tf.tensor4d(images.subarray(start * size, (start + n) * size), [n, height, width, channels]);
        const out = this.forward(x);
        return [tf.softmax(out.logits), out.features];
      });
      // data(), not dataSync(): webgpu in Node cannot read synchronously.
      const [pv, fv] = await Promise.all([p!.data(), f!.data()]);
      tf.dispose([p!, f!]);
      probs.set(pv as Float32Array, start * numLabels);
      features.set(fv as Float32Array, start * this.spec.hidden);
    }
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let l = 1; l < numLabels; l++) if (probs[i * numLabels + l]! > probs[i * numLabels + best]!) best = l;
      labels[i] = best;
    }
    return { count, labels, probs, features };
  }

  /** Share of a data set's images whose predicted label is their label. */
  async accuracy(ds: ImageDataset): Promise<number> {
    const p = await this.predict(ds.images, ds.count);
    let right = 0;
    for (let i = 0; i < ds.count; i++) if (p.labels[i] === ds.labels[i]) right++;
    return ds.count === 0 ? Number.NaN : right / ds.count;
  }

  /** Current weights by name, in weights-file order. */
  async readWeights(): Promise<{ name: string; shape: number[]; values: Float32Array }[]> {
    const out: { name: string; shape: number[]; values: Float32Array }[] = [];
    for (const [name, v] of this.vars) out.push({ name, shape: v.shape, values: (await v.data()) as Float32Array });
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/** One random affine distortion: a rotation (radians), a scale and a shift (pixels) about the image centre. */
export interface Warp {
  angle: number;
  scale: number;
  dx: number;
  dy: number;
}

/**
 * Writes image `i` of `src`, distorted by `warp`, into `dst` at image slot `k`: each output pixel samples the
 * source bilinearly at the inverse-transformed position; outside the source reads 0 (background).
 */
export function warpImage(src: Float32Array, i: number, dst: Float32Array, k: number, shape: ImageShape, warp: Warp): void {
  const { height: H, width: W, channels: C } = shape;
  const size = H * W * C;
  const s0 = i * size;
  const d0 = k * size;
  if (warp.angle === 0 && warp.scale === 1 && warp.dx === 0 && warp.dy === 0) {
    dst.set(src.subarray(s0, s0 + size), d0);
    return;
  }
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  // inverse map: source = R(−angle)·(out − centre − shift) / scale + centre
  const cos = Math.cos(warp.angle) / warp.scale;
  const sin = Math.sin(warp.angle) / warp.scale;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const ox = x - cx - warp.dx;
      const oy = y - cy - warp.dy;
      const sx = cos * ox + sin * oy + cx;
      const sy = -sin * ox + cos * oy + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      // weights of the four neighbours; a neighbour outside the image counts as 0
      const w00 = y0 >= 0 && y0 < H && x0 >= 0 && x0 < W ? (1 - fy) * (1 - fx) : 0;
      const w01 = y0 >= 0 && y0 < H && x0 + 1 >= 0 && x0 + 1 < W ? (1 - fy) * fx : 0;
      const w10 = y0 + 1 >= 0 && y0 + 1 < H && x0 >= 0 && x0 < W ? fy * (1 - fx) : 0;
      const w11 = y0 + 1 >= 0 && y0 + 1 < H && x0 + 1 >= 0 && x0 + 1 < W ? fy * fx : 0;
      const base = s0 + (y0 * W + x0) * C;
      const out = d0 + (y * W + x) * C;
      for (let c = 0; c < C; c++) {
        let v = 0;
        if (w00) v += w00 * src[base + c]!;
        if (w01) v += w01 * src[base + C + c]!;
        if (w10) v += w10 * src[base + W * C + c]!;
        if (w11) v += w11 * src[base + W * C + C + c]!;
        dst[out + c] = v;
      }
    }
  }
}

/** The kinds of synthetic non-digits the reject output learns from. */
export const NEGATIVE_KINDS = ["noise", "smoothNoise", "blobs", "overlay"] as const;

/**
 * Writes one synthetic non-digit into image slot `k` of `dst`, drawn from `rng`: uniform noise of random
 * contrast; box-blurred noise; a few Gaussian blobs; or two training digits of different labels overlaid (max),
 * each shifted. Pixels in [0, 1].
 */
export function syntheticNegative(kind: (typeof NEGATIVE_KINDS)[number], rng: Rng, train: ImageDataset, dst: Float32Array, k: number): void {
  const { height: H, width: W, channels: C } = train;
  const size = H * W * C;
  const out = dst.subarray(k * size, (k + 1) * size);
  const contrast = 0.3 + 0.7 * rng.next();
  switch (kind) {
    case "noise":
      rng.uniform(out, 0, contrast);
      break;
    case "smoothNoise": {
      const raw = rng.uniform(new Float32Array(size), 0, 1);
      const r = 1 + rng.int(3);
      let lo = Infinity;
      let hi = -Infinity;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          for (let c = 0; c < C; c++) {
            let sum = 0;
            let n = 0;
            for (let yy = Math.max(0, y - r); yy <= Math.min(H - 1, y + r); yy++) {
              for (let xx = Math.max(0, x - r); xx <= Math.min(W - 1, x + r); xx++) {
                sum += raw[(yy * W + xx) * C + c]!;
                n++;
              }
            }
            const v = sum / n;
            out[(y * W + x) * C + c] = v;
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
          }
        }
      }
      for (let i = 0; i < size; i++) out[i] = ((out[i]! - lo) / Math.max(1e-6, hi - lo)) * contrast;
      break;
    }
    case "blobs": {
      out.fill(0);
      const blobs = 1 + rng.int(4);
      for (let b = 0; b < blobs; b++) {
        const cx = W * (0.2 + 0.6 * rng.next());
        const cy = H * (0.2 + 0.6 * rng.next());
        const sx = 1.5 + 4 * rng.next();
        const sy = 1.5 + 4 * rng.next();
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const v = contrast * Math.exp(-(((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2) / 2);
            for (let c = 0; c < C; c++) out[(y * W + x) * C + c] = Math.max(out[(y * W + x) * C + c]!, v);
          }
        }
      }
      break;
    }
    case "overlay": {
      const a = rng.int(train.count);
      let b = rng.int(train.count);
      for (let tries = 0; tries < 20 && train.labels[b] === train.labels[a]; tries++) b = rng.int(train.count);
      const shape = { height: H, width: W, channels: C, numLabels: train.numLabels };
      const tmp = new Float32Array(2 * size);
      const shift = () => ({ dx: rng.int(9) - 4, dy: rng.int(9) - 4, angle: 0, scale: 1 });
      warpImage(train.images, a, tmp, 0, shape, shift());
      warpImage(train.images, b, tmp, 1, shape, shift());
      for (let i = 0; i < size; i++) out[i] = Math.max(tmp[i]!, tmp[size + i]!);
      break;
    }
  }
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  loss: number;
  seconds: number;
}

/**
 * Trains a new classifier on `train` (its images and labels), from scratch. Batches are drawn in an order that
 * derives from (seed, epoch); the last partial batch of an epoch is dropped (the next epoch's order differs).
 */
export async function trainClassifier(
  train: ImageDataset,
  opts: { spec?: ClassifierSpec; training?: ClassifierTraining; onEpoch?: (p: TrainProgress) => void } = {},
): Promise<Classifier> {
  const spec = opts.spec ?? DEFAULT_CLASSIFIER_SPEC;
  const t = opts.training ?? DEFAULT_CLASSIFIER_TRAINING;
  const shape: ImageShape = { height: train.height, width: train.width, channels: train.channels, numLabels: train.numLabels };
  // With a reject output, the last `negatives` images of every batch are synthetic non-digits.
  const negatives = spec.reject ? Math.round(t.batchSize * t.negativeShare) : 0;
  const reals = Math.min(t.batchSize - negatives, train.count);
  if (reals < 1)
    throw new RangeError(`the evaluator needs at least one real image per batch (batch ${t.batchSize}, ${negatives} synthetic, ${train.count} images)`);
  const B = reals + negatives;
  const classifier = new Classifier(spec, shape, { seed: t.seed });
  const params = classifier.variables();
  const size = shape.height * shape.width * shape.channels;
  const batch = new Float32Array(B * size);
  const mask = new Float32Array(B * spec.hidden);
  const labels = new Int32Array(B);
  const steps = Math.floor(train.count / reals);
  const total = steps * t.epochs;
  // Adam (β1 0.9, β2 0.999, ε 1e-8) with a linear learning-rate decay; its moments live with the run only.
  const moment = () => params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
  const m = moment();
  const s = moment();
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const t0 = performance.now();
  let step = 0;
  try {
    for (let epoch = 0; epoch < t.epochs; epoch++) {
      const order = new Rng(deriveSeed(t.seed, DiagnosticsStream.evaluatorShuffle, epoch)).permutation(train.count);
      const shifts = new Rng(deriveSeed(t.seed, DiagnosticsStream.evaluatorAugment, epoch));
      const synthetic = new Rng(deriveSeed(t.seed, DiagnosticsStream.evaluatorNegatives, epoch));
      let lossSum: tf.Scalar = tf.keep(tf.scalar(0));
      for (let j = 0; j < steps; j++) {
        for (let k = reals; k < B; k++) {
          syntheticNegative(NEGATIVE_KINDS[synthetic.int(NEGATIVE_KINDS.length)]!, synthetic, train, batch, k);
          labels[k] = train.numLabels; // "not a digit"
        }
        for (let k = 0; k < reals; k++) {
          const i = order[j * reals + k]!;
          const between = (r: number) => (2 * shifts.next() - 1) * r;
          const warp = { dx: between(t.maxShift), dy: between(t.maxShift), angle: (between(t.maxRotation) * Math.PI) / 180, scale: 1 + between(t.maxScale) };
          warpImage(train.images, i, batch, k, shape, warp);
          labels[k] = train.labels[i]!;
        }
        // Inverted dropout: kept units scaled by 1 / (1 − p), so inference needs no change.
        if (t.dropout > 0) for (let q = 0; q < mask.length; q++) mask[q] = shifts.next() < t.dropout ? 0 : 1 / (1 - t.dropout);
        step++;
        const lr = t.learningRate + (t.finalLearningRate - t.learningRate) * ((step - 1) / Math.max(1, total - 1));
        const correction1 = 1 - b1 ** step;
        const correction2 = 1 - b2 ** step;
        tf.tidy(() => {
          const x = tf.tensor4d(batch, [B, shape.height, shape.width, shape.channels]);
          const y = tf.oneHot(tf.tensor1d(labels, "int32"), classifier.outputs);
          const dropMask = t.dropout > 0 ? tf.tensor2d(mask, [B, spec.hidden]) : undefined;
          const { value, grads } = tf.variableGrads(
            () => {
              const { logits } = classifier.forward(x, dropMask);
              // mean over the batch of −Σ y·log softmax(logits)
              return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1))) as tf.Scalar;
            },
            params.map((p) => p.variable),
          );
          params.forEach((p, i) => {
            const g = grads[p.variable.name]!;
            m[i]!.assign(tf.add(tf.mul(m[i]!, b1), tf.mul(g, 1 - b1)));
            s[i]!.assign(tf.add(tf.mul(s[i]!, b2), tf.mul(tf.square(g), 1 - b2)));
            const update = tf.div(tf.mul(m[i]!, lr / correction1), tf.add(tf.sqrt(tf.div(s[i]!, correction2)), eps));
            p.variable.assign(tf.sub(p.variable, update));
          });
          const next = tf.keep(tf.add(lossSum, value) as tf.Scalar);
          lossSum.dispose();
          lossSum = next;
        });
      }
      const loss = ((await lossSum.data())[0] ?? Number.NaN) / Math.max(1, steps);
      lossSum.dispose();
      if (!Number.isFinite(loss)) throw new Error(`evaluator training diverged at epoch ${epoch + 1} (loss ${loss})`);
      opts.onEpoch?.({ epoch: epoch + 1, epochs: t.epochs, loss, seconds: (performance.now() - t0) / 1000 });
      // Let other work (messages, timers) in between epochs.
      await new Promise((r) => setImmediate(r));
    }
  } catch (e) {
    classifier.dispose();
    throw e;
  } finally {
    tf.dispose([...m, ...s]);
  }
  return classifier;
}
