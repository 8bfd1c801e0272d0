/**
 * The GAN model: the resolved spec, its parameter store, the graph and one solver per training network, with
 * the one-iteration training step that runs NNC's three training networks in turn.
 */
import * as tf from "@tensorflow/tfjs-core";
// Gradients of every op are registered once, here, where training needs them.
import "./tf-gradients";
import type { Optimizer } from "./config";
import type { Batch } from "./data/dataset";
import { Graph, discriminatorEndsInSigmoid, lossFrom, type BatchNormUpdate } from "./graph";
import { Solver } from "./optimizers";
import { ParameterStore, type Parameter } from "./params";
import { Rng, Stream, deriveSeed } from "./rng";
import { TRAINING_NETWORKS, resolveSpec, type NetworkDef, type NetworkSpecInput, type PartName, type ResolvedSpec, type TrainingNetworkName } from "./spec";

/** Losses of one iteration, named as NNC's monitors name them. */
export interface Losses {
  /** Generator network: BCE of D(G(z)) against 1. */
  GReal: number;
  /** DiscriminatorFake network: BCE of D(G(z)) against 0. */
  Fake: number;
  /** DiscriminatorReal network: BCE of D(x) against 1. */
  Real: number;
}

/** Noise keys per network, so each draws its own z at every iteration. */
const NOISE_KEY: Record<TrainingNetworkName, number> = { DiscriminatorReal: 0, DiscriminatorFake: 1, Generator: 2 };

export class GanModel {
  readonly resolved: ResolvedSpec;
  readonly store: ParameterStore;
  readonly graph: Graph;
  readonly solvers: Record<TrainingNetworkName, Solver>;
  private readonly sigmoidEnd: boolean;

  constructor(
    spec: NetworkSpecInput,
    readonly seed: number,
    optimizers: Record<TrainingNetworkName, Optimizer>,
  ) {
    this.resolved = resolveSpec(spec);
    this.store = new ParameterStore(this.resolved, seed);
    this.graph = new Graph(this.resolved, this.store);
    this.solvers = {
      Generator: new Solver(optimizers.Generator),
      DiscriminatorFake: new Solver(optimizers.DiscriminatorFake),
      DiscriminatorReal: new Solver(optimizers.DiscriminatorReal),
    };
    this.sigmoidEnd = discriminatorEndsInSigmoid(this.resolved);
  }

  get imageShape(): [number, number, number] {
    const { height, width, channels } = this.resolved.spec.image;
    return [height, width, channels];
  }

  network(name: TrainingNetworkName): NetworkDef {
    return this.resolved.spec.networks.find((n) => n.name === name)!;
  }

  /** Parameters a network updates now: trainable, in a part it trains, LRateMultiplier > 0. */
  trainedBy(name: TrainingNetworkName): Parameter[] {
    const trains = this.network(name).trains;
    return [...this.store.params.values()].filter((p) => p.def.trainable && trains.includes(p.def.part) && p.lrMultiplier > 0);
  }

  /** z for `n` images, drawn from the seed and keys (iteration, network…), never from hidden state. */
  noise(n: number, ...keys: number[]): tf.Tensor2D {
    const { size, distribution } = this.resolved.spec.z;
    const values = new Float32Array(n * size);
    const rng = new Rng(deriveSeed(this.seed, Stream.noise, ...keys));
    if (distribution === "uniform") rng.uniform(values, -1, 1);
    else rng.normal(values);
    return tf.tensor2d(values, [n, size]);
  }

  /** Generator output as pixels in [0, 1], [n, H, W, C], with BatchNormalization's running statistics. */
  generatePixels(z: tf.Tensor2D, labels: Int32Array | number[]): tf.Tensor4D {
    return tf.tidy(() => {
      const onehot = this.graph.oneHot(labels);
      return this.graph.toPixels(this.graph.runPart("generator", z, onehot, { training: false })) as tf.Tensor4D;
    });
  }

  /** Discriminator's output D(x) (after its Sigmoid) for pixels in [0, 1], batch statistics off. */
  discriminate(pixels: tf.Tensor4D, labels: Int32Array | number[]): tf.Tensor1D {
    return tf.tidy(() => {
      const onehot = this.graph.oneHot(labels);
      const out = this.graph.runPart("discriminator", this.graph.toModelRange(pixels), onehot, { training: false }, true);
      return tf.reshape(this.sigmoidEnd ? tf.sigmoid(out) : out, [-1]) as tf.Tensor1D;
    });
  }

  /** A network's loss with BatchNormalization's running statistics (no update); `input` as for training. */
  evaluateLoss(name: TrainingNetworkName, input: tf.Tensor, labels: Int32Array | number[]): tf.Scalar {
    const net = this.network(name);
    return tf.tidy(() => {
      const onehot = this.graph.oneHot(labels);
      let h = net.input === "data" ? this.graph.toModelRange(input) : input;
      for (const part of net.parts) h = this.graph.runPart(part, h, onehot, { training: false }, part === "discriminator");
      return lossFrom(h, net.loss!, this.sigmoidEnd);
    });
  }

  /**
   * One training network's forward pass, loss, backward pass and update. Returns its loss (a kept scalar).
   * `input` is real images in model range (DiscriminatorReal) or z (the other two).
   */
  private trainNetwork(name: TrainingNetworkName, input: tf.Tensor, onehot: tf.Tensor2D): tf.Scalar {
    const net = this.network(name);
    const params = this.trainedBy(name);
    const updates: BatchNormUpdate[] = [];
    const opts = (part: PartName) => ({ training: true, ...(net.trains.includes(part) ? { bnUpdates: updates } : {}) });
    const forward = (): tf.Scalar => {
      let h = input;
      for (const part of net.parts) h = this.graph.runPart(part, h, onehot, opts(part), part === "discriminator");
      return lossFrom(h, net.loss!, this.sigmoidEnd);
    };
    let loss: tf.Scalar;
    if (params.length === 0) {
      // Everything this network trains is frozen: report its loss, update nothing.
      loss = tf.tidy(() => forward());
    } else {
      const { value, grads } = tf.variableGrads(
        forward,
        params.map((p) => p.variable),
      );
      // variableGrads names gradients by variable name; map them to parameter keys.
      const byKey: tf.NamedTensorMap = {};
      for (const p of params) byKey[p.key] = grads[p.variable.name]!;
      this.solvers[name].apply(params, byKey);
      tf.dispose(grads);
      loss = value;
    }
    for (const u of updates) {
      updateRunningStatistics(this.store, u);
      tf.dispose([u.mean, u.variance]);
    }
    return loss;
  }

  /**
   * One iteration: DiscriminatorReal, then DiscriminatorFake, then Generator, each forward, backward and
   * update, as NNC's three optimizers run. Fake images use the batch's labels; each network draws its own z
   * from (seed, iteration). Returns the three losses.
   */
  async trainStep(batch: Batch, iteration: number): Promise<Losses> {
    const n = batch.labels.length;
    const [h, w, c] = this.imageShape;
    const onehot = this.graph.oneHot(batch.labels);
    const losses: tf.Scalar[] = [];
    try {
      for (const name of ["DiscriminatorReal", "DiscriminatorFake", "Generator"] as const) {
        const input = tf.tidy(() =>
          this.network(name).input === "data" ? this.graph.toModelRange(tf.tensor4d(batch.images, [n, h, w, c])) : this.noise(n, iteration, NOISE_KEY[name]),
        );
        try {
          losses.push(this.trainNetwork(name, input, onehot));
        } finally {
          input.dispose();
        }
      }
      const stacked = tf.stack(losses);
      const values = await stacked.data();
      stacked.dispose();
      return { Real: values[0]!, Fake: values[1]!, GReal: values[2]! };
    } finally {
      onehot.dispose();
      tf.dispose(losses);
    }
  }

  /** Optimizer settings per training network, as they are now. */
  optimizerSettings(): Record<TrainingNetworkName, Optimizer> {
    return Object.fromEntries(TRAINING_NETWORKS.map((n) => [n, this.solvers[n].settings])) as Record<TrainingNetworkName, Optimizer>;
  }

  dispose(): void {
    this.graph.dispose();
    this.store.dispose();
    for (const s of Object.values(this.solvers)) s.dispose();
  }
}

/**
 * BatchNormalization's running statistics after one batch, as nnabla updates them: r ← decay·r + (1 − decay)·batch,
 * with the variance made unbiased first (× count / (count − 1)), so the RuntimeGenerator normalises with the
 * variance of the data rather than of the batch.
 */
export function updateRunningStatistics(store: ParameterStore, u: BatchNormUpdate): void {
  tf.tidy(() => {
    const mean = store.variable(u.scope, "mean");
    const variance = store.variable(u.scope, "var");
    const unbiased = u.count > 1 ? tf.mul(u.variance, u.count / (u.count - 1)) : u.variance;
    mean.assign(tf.add(tf.mul(mean, u.decayRate), tf.mul(u.mean, 1 - u.decayRate)));
    variance.assign(tf.add(tf.mul(variance, u.decayRate), tf.mul(unbiased, 1 - u.decayRate)));
  });
}
