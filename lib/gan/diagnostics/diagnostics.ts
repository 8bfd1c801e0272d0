/**
 * Diagnostics of a training GAN, once per epoch and on demand: the quality and collapse metrics of a fixed
 * evaluation batch, D(x) on real and fake images, gradient norms per ParameterScope, and the collapse alarm.
 *
 *   const diagnostics = await Diagnostics.create({ dataset, seed: config.seed, validationFraction: config.validationFraction });
 *   …after each epoch, between iterations:
 *   const report = await diagnostics.evaluate(model, epoch, { iteration });   // a DiagnosticsReport, JSON-ready
 *
 * Fixed for the whole run, so epochs compare: the evaluation batch (`perLabel` images of each label, z from
 * deriveSeed(seed, DiagnosticsStream.evalNoise)) and the real reference (`referencePerLabel` images of each label
 * drawn from the training split with deriveSeed(seed, DiagnosticsStream.reference, label): images the evaluator
 * never saw, from the distribution the GAN learns). The evaluator reads the reference once, at create.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ImageDataset } from "../data/dataset";
import { selectIndices, splitDataset } from "../data/dataset";
import { discriminatorEndsInSigmoid, lossFrom } from "../graph";
import type { GanModel } from "../model";
import { Rng, deriveSeed } from "../rng";
import type { PartName, TrainingNetworkName } from "../spec";
import type { Classifier, TrainProgress } from "./classifier";
import { DEFAULT_GRADIENT_PER_LABEL, DEFAULT_PER_LABEL } from "./defaults";
import { CollapseDetector, type CollapseAlarm, type CollapseRuleName, type CollapseRules } from "./collapse";
import { loadOrTrainEvaluator, type Evaluator, type EvaluatorInfo, type EvaluatorOptions } from "./evaluator";
import { metricsFromPredictions, realReference, type MetricOptions, type PerClassMetrics, type QualityMetrics, type RealReference } from "./metrics";
import { DiagnosticsStream } from "./streams";

export { DEFAULT_GRADIENT_PER_LABEL, DEFAULT_PER_LABEL } from "./defaults";

/**
 * Every metric of one evaluation, flat (the CLI's JSON line and the event's `metrics`). A type, not an interface, so
 * that it is a record of numbers to the trainer protocol's schema (lib/protocol/trainer.ts, tied with `satisfies`).
 */
export type DiagnosticsMetrics = Omit<QualityMetrics, "perClass"> & {
  /** Mean D(x) (after the discriminator's Sigmoid) on the real reference images and on the evaluation batch. */
  dRealMean: number;
  dFakeMean: number;
  /** The evaluator's accuracy on real images it never saw (EvaluatorInfo.testedOn). */
  classifierAccuracy: number;
};

export interface GradientNorm {
  scope: string;
  part: PartName;
  /** L2 norm of the loss's gradient over the scope's trainable parameters (W, b, beta, gamma together). */
  norm: number;
}

export interface DiagnosticsReport {
  epoch: number;
  iteration: number | null;
  metrics: DiagnosticsMetrics;
  perClass: PerClassMetrics[];
  /** Per ParameterScope, in the spec's order; empty when gradients were not asked for. */
  gradNorms: GradientNorm[];
  /** Alarms raised at this epoch (empty when none, or when the evaluation was not observed). */
  alarms: CollapseAlarm[];
  /** Rules whose alarm is raised and still holds. */
  activeAlarms: CollapseRuleName[];
  /** Milliseconds spent, by stage, and in all. */
  timings: { generate: number; evaluator: number; metrics: number; discriminator: number; gradients: number; total: number };
}

export interface DiagnosticsOptions extends MetricOptions {
  /** The whole data set (not split), as the trainer loads it. */
  dataset: ImageDataset;
  /** The run's seed: its split, the evaluation noise and the reference images derive from it. */
  seed: number;
  validationFraction?: number;
  /** Evaluator cache folder (default data/evaluators; null: no cache). */
  cacheDir?: string | null;
  /** An evaluator already loaded (tests, or one shared by several runs); the cache is then not used. */
  evaluator?: Evaluator;
  /** Options passed to the evaluator's training when it is not cached (spec, training, retrain). */
  evaluatorOptions?: Pick<EvaluatorOptions, "spec" | "training" | "retrain">;
  onEvaluatorEpoch?: (p: TrainProgress) => void;
  /** Generated images per label in the evaluation batch (default 50). */
  perLabel?: number;
  /** Real reference images per label (default: perLabel, so precision and recall compare equal sets). */
  referencePerLabel?: number;
  /** Images per label of the evaluation batch used for gradient norms (default 8; 0: no gradient norms). */
  gradientPerLabel?: number;
  /** Collapse rules (default DEFAULT_COLLAPSE_RULES). */
  collapse?: Partial<CollapseRules>;
}

const mean = (xs: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return xs.length ? s / xs.length : Number.NaN;
};

export class Diagnostics {
  readonly detector: CollapseDetector;
  private readonly labels: Int32Array;
  private readonly gradientIndices: number[];

  private constructor(
    readonly evaluator: Evaluator,
    /** The real reference images (NHWC, [0, 1]) and their labels. */
    readonly referenceImages: ImageDataset,
    readonly reference: RealReference,
    readonly seed: number,
    readonly perLabel: number,
    gradientPerLabel: number,
    private readonly metricOptions: MetricOptions,
    collapse: Partial<CollapseRules> | undefined,
    private readonly ownsEvaluator: boolean,
  ) {
    const L = referenceImages.numLabels;
    this.labels = Int32Array.from({ length: L * perLabel }, (_, i) => Math.floor(i / perLabel));
    this.gradientIndices = [];
    for (let l = 0; l < L; l++) for (let j = 0; j < Math.min(gradientPerLabel, perLabel); j++) this.gradientIndices.push(l * perLabel + j);
    this.detector = new CollapseDetector(collapse);
  }

  /** Loads (or trains and caches) the evaluator, picks the reference images and reads them once. */
  static async create(opts: DiagnosticsOptions): Promise<Diagnostics> {
    const ds = opts.dataset;
    const fraction = opts.validationFraction ?? 1 / 6;
    const perLabel = opts.perLabel ?? DEFAULT_PER_LABEL;
    if (!(Number.isInteger(perLabel) && perLabel >= 2)) throw new RangeError(`perLabel must be an integer ≥ 2, got ${perLabel}`);
    const evaluator =
      opts.evaluator ??
      (await loadOrTrainEvaluator({
        dataset: ds,
        seed: opts.seed,
        validationFraction: fraction,
        ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
        ...opts.evaluatorOptions,
        ...(opts.onEvaluatorEpoch ? { onEpoch: opts.onEvaluatorEpoch } : {}),
      }));
    try {
      const { train } = splitDataset(ds, { validationFraction: fraction, seed: opts.seed });
      const referenceImages = pickReference(train, opts.referencePerLabel ?? perLabel, opts.seed);
      const predictions = await evaluator.classifier.predict(referenceImages.images, referenceImages.count);
      // Only the options: the Diagnostics must not keep the whole data set alive.
      const metricOptions: MetricOptions = {
        ...(opts.k !== undefined ? { k: opts.k } : {}),
        ...(opts.coverageShare !== undefined ? { coverageShare: opts.coverageShare } : {}),
      };
      const reference = realReference(predictions, referenceImages.labels, ds.numLabels, metricOptions);
      const gradientPerLabel = opts.gradientPerLabel ?? DEFAULT_GRADIENT_PER_LABEL;
      return new Diagnostics(evaluator, referenceImages, reference, opts.seed, perLabel, gradientPerLabel, metricOptions, opts.collapse, !opts.evaluator);
    } catch (e) {
      if (!opts.evaluator) evaluator.classifier.dispose();
      throw e;
    }
  }

  get classifier(): Classifier {
    return this.evaluator.classifier;
  }

  get evaluatorInfo(): EvaluatorInfo {
    return this.evaluator.info;
  }

  /** The evaluation batch's labels: perLabel images of label 0, then of label 1, … */
  get evalLabels(): Int32Array {
    return this.labels;
  }

  /** The evaluation batch's noise, [count, zSize], fixed by the seed and the spec's z distribution. */
  evalNoise(model: GanModel): tf.Tensor2D {
    const { size, distribution } = model.resolved.spec.z;
    const values = new Float32Array(this.labels.length * size);
    const rng = new Rng(deriveSeed(this.seed, DiagnosticsStream.evalNoise));
    if (distribution === "uniform") rng.uniform(values, -1, 1);
    else rng.normal(values);
    return tf.tensor2d(values, [this.labels.length, size]);
  }

  /**
   * Measures `model` now (call between iterations). With `observe` (the default) the metrics also go to the
   * collapse detector as epoch `epoch`'s, and the report carries the alarms raised; an on-demand measurement
   * passes `observe: false` and leaves the detector as it was.
   */
  async evaluate(model: GanModel, epoch: number, opts: { iteration?: number; observe?: boolean; gradients?: boolean } = {}): Promise<DiagnosticsReport> {
    const L = this.referenceImages.numLabels;
    if (model.resolved.spec.numLabels !== L) throw new RangeError(`the model has ${model.resolved.spec.numLabels} labels, the data set ${L}`);
    const t0 = performance.now();
    const labels = this.labels;
    const z = this.evalNoise(model);
    let pixels: Float32Array;
    try {
      const out = model.generatePixels(z, labels);
      pixels = (await out.data()) as Float32Array; // data(): webgpu in Node has no synchronous read
      out.dispose();
    } finally {
      z.dispose();
    }
    const t1 = performance.now();
    const generated = await this.classifier.predict(pixels, labels.length);
    const t2 = performance.now();
    const quality = metricsFromPredictions(generated, labels, this.reference, this.metricOptions);
    const t3 = performance.now();
    const [dReal, dFake] = await this.discriminatorMeans(model, pixels);
    const t4 = performance.now();
    const gradNorms = opts.gradients === false || this.gradientIndices.length === 0 ? [] : await this.gradientNorms(model);
    const t5 = performance.now();
    const { perClass, ...rest } = quality;
    const metrics: DiagnosticsMetrics = { ...rest, dRealMean: dReal, dFakeMean: dFake, classifierAccuracy: this.evaluator.info.accuracy };
    const alarms = opts.observe === false ? [] : this.detector.observe(metrics, epoch);
    return {
      epoch,
      iteration: opts.iteration ?? null,
      metrics,
      perClass,
      gradNorms,
      alarms,
      activeAlarms: this.detector.active(),
      timings: { generate: t1 - t0, evaluator: t2 - t1, metrics: t3 - t2, discriminator: t4 - t3, gradients: t5 - t4, total: t5 - t0 },
    };
  }

  /** Mean D(x) over the real reference and over the generated images, with the labels each goes with. */
  private async discriminatorMeans(model: GanModel, generated: Float32Array): Promise<[number, number]> {
    const [h, w, c] = model.imageShape;
    const ref = this.referenceImages;
    const [dReal, dFake] = tf.tidy(() => [
      model.discriminate(tf.tensor4d(ref.images, [ref.count, h, w, c]), ref.labels),
      model.discriminate(tf.tensor4d(generated, [this.labels.length, h, w, c]), this.labels),
    ]);
    const [real, fake] = await Promise.all([dReal!.data(), dFake!.data()]);
    tf.dispose([dReal!, dFake!]);
    return [mean(real), mean(fake)];
  }

  /**
   * Gradient norms per ParameterScope on a slice of the evaluation batch (`gradientPerLabel` of each label),
   * as the training step would compute them (BatchNormalization on batch statistics, running statistics left
   * alone, nothing updated): generator scopes from the Generator network's loss; discriminator scopes from
   * DiscriminatorReal's loss (real reference images, same labels) plus DiscriminatorFake's. Every trainable
   * parameter counts, LRateMultiplier 0 or not, so a frozen scope shows what it would receive.
   */
  private async gradientNorms(model: GanModel): Promise<GradientNorm[]> {
    const idx = this.gradientIndices;
    const n = idx.length;
    const [h, w, c] = model.imageShape;
    const size = h * w * c;
    const labels = Int32Array.from(idx, (i) => this.labels[i]!);
    const zAll = this.evalNoise(model);
    const real = new Float32Array(n * size);
    // Real images with the same labels: the first ones of each label in the reference.
    const used = new Array<number>(this.referenceImages.numLabels).fill(0);
    const byLabel: number[][] = Array.from({ length: this.referenceImages.numLabels }, () => []);
    this.referenceImages.labels.forEach((l, i) => {
      byLabel[l]!.push(i);
    });
    labels.forEach((l, k) => {
      const list = byLabel[l]!;
      const i = list[used[l]! % list.length]!;
      used[l] = used[l]! + 1;
      real.set(this.referenceImages.images.subarray(i * size, (i + 1) * size), k * size);
    });
    const sigmoidEnd = discriminatorEndsInSigmoid(model.resolved);
    const params = [...model.store.params.values()].filter((p) => p.def.trainable);
    const squares = tf.tidy(() => {
      const z = tf.gather(zAll, tf.tensor1d(Int32Array.from(idx), "int32"));
      const x = model.graph.toModelRange(tf.tensor4d(real, [n, h, w, c]));
      const onehot = model.graph.oneHot(labels);
      const loss = (name: TrainingNetworkName): tf.Scalar => {
        const net = model.network(name);
        let out: tf.Tensor = net.input === "data" ? x : z;
        for (const part of net.parts) out = model.graph.runPart(part, out, onehot, { training: true }, part === "discriminator");
        return lossFrom(out, net.loss!, sigmoidEnd);
      };
      const perKey = new Map<string, tf.Scalar>();
      for (const [part, lossFn] of [
        ["generator", () => loss("Generator")],
        ["discriminator", () => tf.add(loss("DiscriminatorReal"), loss("DiscriminatorFake")) as tf.Scalar],
      ] as const) {
        const vars = params.filter((p) => p.def.part === part);
        if (vars.length === 0) continue;
        const { grads } = tf.variableGrads(
          lossFn,
          vars.map((p) => p.variable),
        );
        for (const p of vars) perKey.set(p.key, tf.sum(tf.square(grads[p.variable.name]!)));
      }
      return { keys: [...perKey.keys()], stacked: tf.stack([...perKey.values()]) };
    });
    zAll.dispose();
    const values = await squares.stacked.data();
    squares.stacked.dispose();
    const byScope = new Map<string, number>();
    squares.keys.forEach((key, i) => {
      const scope = model.store.params.get(key)!.def.scope;
      byScope.set(scope, (byScope.get(scope) ?? 0) + values[i]!);
    });
    return model.resolved.scopes.filter((s) => byScope.has(s.scope)).map((s) => ({ scope: s.scope, part: s.part, norm: Math.sqrt(byScope.get(s.scope)!) }));
  }

  /** Frees the evaluator's weights (unless the caller passed the evaluator in: it stays theirs). */
  dispose(): void {
    if (this.ownsEvaluator) this.classifier.dispose();
  }
}

/**
 * Indices of `perLabel` images of each label of `ds` (fewer where a label has fewer), label by label, drawn with
 * deriveSeed(seed, DiagnosticsStream.reference, label).
 */
export function referenceIndices(ds: ImageDataset, perLabel: number, seed: number): number[] {
  const groups: number[][] = Array.from({ length: ds.numLabels }, () => []);
  ds.labels.forEach((l, i) => {
    groups[l]!.push(i);
  });
  const chosen: number[] = [];
  groups.forEach((members, label) => {
    const order = new Rng(deriveSeed(seed, DiagnosticsStream.reference, label)).permutation(members.length);
    for (let k = 0; k < Math.min(perLabel, members.length); k++) chosen.push(members[order[k]!]!);
  });
  return chosen;
}

/** The images at {@link referenceIndices} as a data set of their own (pixels copied). */
export function pickReference(ds: ImageDataset, perLabel: number, seed: number): ImageDataset {
  return selectIndices(ds, referenceIndices(ds, perLabel, seed), `${ds.name}/reference`);
}
