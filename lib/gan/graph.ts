/**
 * Runs the spec's parts (generator, discriminator) as TensorFlow.js ops over the shared parameter store.
 *
 * Label conditioning is computed without building label planes per batch: a convolution over
 * concat(h, planes(label)) equals conv(h, W_h) + conv(planes(label), W_label), and planes(label) is one of only
 * `numLabels` constant maps. So the label term is conv(allPlanes, W_label) over `numLabels` images once per
 * step, then picked per image by a one-hot matMul. Same parameters, same result, a fraction of the work.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParameterStore } from "./params";
import type { Layer, LayerInfo, Loss, PartName, ResolvedSpec } from "./spec";

export interface BatchNormUpdate {
  scope: string;
  decayRate: number;
  mean: tf.Tensor;
  /** The batch variance as normalisation uses it (biased: divided by `count`). */
  variance: tf.Tensor;
  /** Values per channel the statistics were taken over (batch × height × width). */
  count: number;
}

export interface ForwardOptions {
  /** Batch statistics (training) or the running mean and variance (inference). */
  training: boolean;
  /** When given (and training), BatchNormalization layers push their batch moments here, kept out of tidy. */
  bnUpdates?: BatchNormUpdate[];
}

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];
const nncPad = (pad: [number, number]): Pad4 => [
  [0, 0],
  [pad[0], pad[0]],
  [pad[1], pad[1]],
  [0, 0],
];

export class Graph {
  /** Constant one-hot label planes [L, H, W, L] per map size; made once, disposed with the graph. */
  private readonly planes = new Map<string, tf.Tensor4D>();
  private readonly eye: tf.Tensor2D;

  constructor(
    readonly resolved: ResolvedSpec,
    readonly store: ParameterStore,
  ) {
    this.eye = tf.keep(tf.eye(resolved.spec.numLabels) as tf.Tensor2D);
  }

  get numLabels(): number {
    return this.resolved.spec.numLabels;
  }

  /** One-hot labels [n, L] from label indices. */
  oneHot(labels: Int32Array | number[]): tf.Tensor2D {
    return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(labels), "int32"), this.numLabels), "float32") as tf.Tensor2D);
  }

  private labelPlanes(h: number, w: number): tf.Tensor4D {
    const key = `${h}x${w}`;
    let p = this.planes.get(key);
    if (!p) {
      const L = this.numLabels;
      // plane l is 1 in channel l everywhere: [L, 1, 1, L] broadcast to [L, H, W, L]
      p = tf.keep(tf.tidy(() => tf.tile(tf.reshape(this.eye, [L, 1, 1, L]), [1, h, w, 1]) as tf.Tensor4D));
      this.planes.set(key, p);
    }
    return p;
  }

  /** Label planes for a batch, materialised: only used when a ConcatLabel on a map is not followed by a (de)convolution. */
  private batchPlanes(onehot: tf.Tensor2D, h: number, w: number): tf.Tensor4D {
    const [n, L] = onehot.shape;
    return tf.mul(tf.reshape(onehot, [n, 1, 1, L]), tf.ones([1, h, w, 1])) as tf.Tensor4D;
  }

  /**
   * Runs one part. `x` is z [n, zSize] for the generator or images [n, H, W, C] for the discriminator, in the
   * generator's output range. Returns the part's output before a final Sigmoid when `logits` is set (for a
   * numerically stable loss), else after it.
   */
  runPart(part: PartName, x: tf.Tensor, onehot: tf.Tensor2D, opts: ForwardOptions, logits = false): tf.Tensor {
    const infos = this.resolved.layers[part];
    let h = x;
    let pendingPlanes = false;
    for (let i = 0; i < infos.length; i++) {
      const info = infos[i]!;
      const layer = info.layer;
      const isLast = i === infos.length - 1;
      if (pendingPlanes && layer.type !== "Convolution" && layer.type !== "Deconvolution") {
        // A map with label planes that feeds something other than a convolution: build the planes.
        const [, H, W] = h.shape as number[];
        h = tf.concat([h, this.batchPlanes(onehot, H!, W!)], 3);
        pendingPlanes = false;
      }
      switch (layer.type) {
        case "ConcatLabel":
          if (info.labelPlanes) pendingPlanes = true;
          else h = tf.concat([tf.reshape(h, [h.shape[0]!, -1]), onehot], 1);
          break;
        case "Affine": {
          const W = this.store.variable(layer.scope, "W");
          const b = this.store.variable(layer.scope, "b");
          const flat = tf.reshape(h, [h.shape[0]!, -1]) as tf.Tensor2D; // [n, in]
          h = tf.reshape(tf.add(tf.matMul(flat, W as tf.Tensor2D), b), [h.shape[0]!, ...info.outShape]); // [n, ...outShape]
          break;
        }
        case "Convolution":
        case "Deconvolution":
          h = this.convolution(info, layer, h as tf.Tensor4D, pendingPlanes ? onehot : null);
          pendingPlanes = false;
          break;
        case "BatchNormalization":
          h = this.batchNorm(layer, h, opts);
          break;
        case "ReLU":
          h = tf.relu(h);
          break;
        case "LeakyReLU":
          h = tf.leakyRelu(h, layer.alpha);
          break;
        case "Sigmoid":
          if (!(logits && isLast)) h = tf.sigmoid(h);
          break;
        case "Tanh":
          h = tf.tanh(h);
          break;
        case "Reshape":
          h = tf.reshape(h, [h.shape[0]!, ...layer.outShape]);
          break;
      }
    }
    return h;
  }

  /**
   * Convolution or Deconvolution of `h` [n, H, W, C], optionally concatenated with label planes (fused, see top).
   */
  private convolution(
    info: LayerInfo,
    layer: Extract<Layer, { type: "Convolution" | "Deconvolution" }>,
    h: tf.Tensor4D,
    onehot: tf.Tensor2D | null,
  ): tf.Tensor4D {
    const W = this.store.variable(layer.scope, "W") as tf.Tensor4D;
    const b = this.store.variable(layer.scope, "b");
    const [kh, kw] = layer.kernel;
    const pad = nncPad(layer.pad);
    const n = h.shape[0];
    const [oh, ow, co] = info.outShape as [number, number, number];
    const c = h.shape[3];
    const L = this.numLabels;
    const apply = (input: tf.Tensor4D, filter: tf.Tensor4D, batch: number): tf.Tensor4D =>
      layer.type === "Convolution" ? tf.conv2d(input, filter, layer.stride, pad) : tf.conv2dTranspose(input, filter, [batch, oh, ow, co], layer.stride, pad);
    let out: tf.Tensor4D;
    if (onehot) {
      // Filter channels: the map's C first, then L label planes (NNC's concat order).
      const Wh = layer.type === "Convolution" ? tf.slice(W, [0, 0, 0, 0], [kh, kw, c, co]) : tf.slice(W, [0, 0, 0, 0], [kh, kw, co, c]);
      const Wl = layer.type === "Convolution" ? tf.slice(W, [0, 0, c, 0], [kh, kw, L, co]) : tf.slice(W, [0, 0, 0, c], [kh, kw, co, L]);
      const perLabel = apply(this.labelPlanes(h.shape[1], h.shape[2]), Wl, L); // [L, oh, ow, co]
      const labelTerm = tf.reshape(tf.matMul(onehot, tf.reshape(perLabel, [L, oh * ow * co])), [n, oh, ow, co]); // [n, oh, ow, co]
      out = tf.add(apply(h, Wh, n), labelTerm);
    } else {
      out = apply(h, W, n);
    }
    return tf.add(out, b);
  }

  private batchNorm(layer: Extract<Layer, { type: "BatchNormalization" }>, h: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    const beta = this.store.variable(layer.scope, "beta");
    const gamma = this.store.variable(layer.scope, "gamma");
    if (!opts.training) {
      const mean = this.store.variable(layer.scope, "mean");
      const variance = this.store.variable(layer.scope, "var");
      return tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, layer.epsilon))), gamma), beta);
    }
    const axes = h.rank === 2 ? [0] : [0, 1, 2];
    const count = axes.reduce((n, a) => n * h.shape[a]!, 1);
    return batchNormTraining(h, gamma, beta, axes, layer.epsilon, (mean, variance) => {
      opts.bnUpdates?.push({ scope: layer.scope, decayRate: layer.decayRate, mean: tf.keep(mean), variance: tf.keep(variance), count });
    });
  }

  /** Maps data-set pixels in [0, 1] to the generator's output range. */
  toModelRange(images: tf.Tensor): tf.Tensor {
    const [lo, hi] = this.resolved.outputRange;
    return lo === 0 && hi === 1 ? images : tf.add(tf.mul(images, hi - lo), lo);
  }

  /** Maps generator outputs back to [0, 1] pixels. */
  toPixels(images: tf.Tensor): tf.Tensor {
    const [lo, hi] = this.resolved.outputRange;
    return lo === 0 && hi === 1 ? images : tf.div(tf.sub(images, lo), hi - lo);
  }

  dispose(): void {
    for (const p of this.planes.values()) p.dispose();
    this.planes.clear();
    this.eye.dispose();
  }
}

/**
 * A network's loss from the discriminator's output before its final Sigmoid (`logit`).
 * BinaryCrossEntropy is computed as softplus(∓logit), which equals BCE(sigmoid(logit), target) without its
 * overflow (a discriminator without a final Sigmoid is read as giving logits). SquaredError compares the
 * Sigmoid's output (or the raw output without one) with the target; Hinge uses the raw output:
 * real: mean(relu(1 − D)), fake: mean(relu(1 + D)).
 */
export function lossFrom(logit: tf.Tensor, loss: Loss, sigmoidEnd: boolean): tf.Scalar {
  const t = loss.target;
  switch (loss.type) {
    case "BinaryCrossEntropy":
      return tf.mean(tf.softplus(t === 1 ? tf.neg(logit) : logit)) as tf.Scalar;
    case "SquaredError":
      return tf.mean(tf.square(tf.sub(sigmoidEnd ? tf.sigmoid(logit) : logit, t))) as tf.Scalar;
    case "Hinge":
      return tf.mean(tf.relu(t === 1 ? tf.sub(1, logit) : tf.add(1, logit))) as tf.Scalar;
  }
}

/** Whether the discriminator's last layer is a Sigmoid that the loss can absorb. */
export function discriminatorEndsInSigmoid(resolved: ResolvedSpec): boolean {
  const d = resolved.spec.discriminator;
  return d[d.length - 1]?.type === "Sigmoid";
}

/**
 * BatchNormalization with batch statistics, forward and backward written out: y = (x − μ)·γ/√(σ² + ε) + β over
 * `axes`, μ and σ² (biased) the batch's. Differentiating the ops one by one costs a dozen passes over the
 * activation and five reductions; the closed form below costs six passes and two reductions:
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = (γ/√(σ² + ε))·(dy − (dβ + x̂·dγ)/N),  x̂ = (x − μ)/√(σ² + ε).
 * `moments` receives μ and σ² (to update the running statistics). Equal to the op-by-op gradient to float32
 * rounding (tests/unit/graph.test.ts).
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  axes: number[],
  epsilon: number,
  moments?: (mean: tf.Tensor, variance: tf.Tensor) => void,
): tf.Tensor {
  const n = axes.reduce((c, a) => c * x.shape[a]!, 1);
  const f = tf.customGrad((...args: (tf.Tensor | ((tensors: tf.Tensor[]) => void))[]) => {
    const [xs, g, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
    const save = args[3] as (tensors: tf.Tensor[]) => void;
    const { mean, variance } = tf.moments(xs, axes);
    moments?.(mean, variance);
    const inv = tf.rsqrt(tf.add(variance, epsilon)); // [C]
    const scale = tf.mul(g, inv);
    const value = tf.add(tf.mul(xs, scale), tf.sub(b, tf.mul(mean, scale)));
    save([xs, mean, inv, scale]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = dy as tf.Tensor;
        const [sx, sMean, sInv, sScale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const centered = tf.sub(sx, sMean);
        const dBeta = tf.sum(d, axes);
        const dGammaHat = tf.sum(tf.mul(d, centered), axes); // Σ dy·(x − μ) = dγ·√(σ² + ε)
        const dGamma = tf.mul(dGammaHat, sInv);
        // dx = scale·dy − scale·inv²·dGammaHat/N·(x − μ) − scale·dβ/N
        const k = tf.div(sScale, n);
        const dx = tf.sub(tf.sub(tf.mul(d, sScale), tf.mul(centered, tf.mul(k, tf.mul(tf.square(sInv), dGammaHat)))), tf.mul(k, dBeta));
        return [dx, tf.reshape(dGamma, gamma.shape), tf.reshape(dBeta, beta.shape)];
      },
    };
  });
  return f(x, gamma, beta);
}
