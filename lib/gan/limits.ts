/**
 * What a server allows a run's Config to ask for, checked before anything allocates: BatchSize, the number of
 * layers, the number of parameters, the activation memory of one training iteration and the sample grid's size.
 * The server passes its limits from the environment (server/limits.ts: GAN_MAX_BATCH_SIZE, GAN_MAX_LAYERS,
 * GAN_MAX_PARAMETERS_M, GAN_MAX_ACTIVATION_MB, GAN_MAX_GRID_IMAGES); {@link DEFAULT_CONFIG_LIMITS} are the same
 * defaults. Every issue names the numbers: what the Config asks for, what is allowed, and what would fit.
 *
 * Two steps, because resolving a spec costs in proportion to its layers:
 *   1. {@link checkSpecSize} (or {@link checkConfigBeforeResolve}, which adds BatchSize): array lengths only,
 *      on a parsed spec or on raw input, before `resolveSpec`;
 *   2. {@link checkConfigLimits}: on the resolved spec (the one adapted to the data set for a built-in network).
 *
 * The activation estimate of one iteration (DiscriminatorReal, DiscriminatorFake and Generator updates), in bytes:
 *
 *   perImage    = Σ_generator |outShape| + 2 · Σ_discriminator |outShape|
 *                 (every layer's output, element counts; the discriminator runs on real and on fake images)
 *   activations = 2 · perImage · BatchSize · 4
 *                 (× 2: the outputs are kept for backprop and each gets a gradient of its size; float32)
 *   total       = activations + parameters · 4 · 4
 *                 (every parameter: its value, its gradient and Adam's two moments, float32)
 *
 * It is an estimate of what the engine keeps alive, not a measurement: kernels' scratch space is not counted.
 * The largest BatchSize that fits is floor((limit − parameters · 16) / (8 · perImage)).
 *
 * Imports nothing but spec.ts (zod): no TensorFlow, Next, socket.io, Prisma or server code.
 */
import type { Config } from "./config";
import { resolveSpec, specForConfig, type PartName, type ResolvedSpec } from "./spec";

export interface ConfigLimits {
  /** Largest BatchSize. */
  maxBatchSize: number;
  /** Most layers in a network spec, generator and discriminator together. */
  maxLayers: number;
  /** Most parameters (W, b, beta, gamma and BatchNormalization's running mean and variance). */
  maxParameters: number;
  /** Largest estimated memory of one training iteration at the Config's BatchSize, in bytes (see the formula above). */
  maxActivationBytes: number;
  /** Most images in one sample grid: labels × sampleColumns. */
  maxGridImages: number;
}

/** The same defaults as server/limits.ts: 1024, 200, 50 million, 4 GiB, 1024. */
export const DEFAULT_CONFIG_LIMITS: ConfigLimits = Object.freeze({
  maxBatchSize: 1024,
  maxLayers: 200,
  maxParameters: 50e6,
  maxActivationBytes: 4 * 2 ** 30,
  maxGridImages: 1024,
});

/** The limits from a server's environment values (server/limits.ts `Limits`, passed in so this file needs no server code). */
export function configLimitsFrom(env: {
  GAN_MAX_BATCH_SIZE: number;
  GAN_MAX_LAYERS: number;
  GAN_MAX_PARAMETERS_M: number;
  GAN_MAX_ACTIVATION_MB: number;
  GAN_MAX_GRID_IMAGES: number;
}): ConfigLimits {
  return {
    maxBatchSize: env.GAN_MAX_BATCH_SIZE,
    maxLayers: env.GAN_MAX_LAYERS,
    maxParameters: env.GAN_MAX_PARAMETERS_M * 1e6,
    maxActivationBytes: env.GAN_MAX_ACTIVATION_MB * 2 ** 20,
    maxGridImages: env.GAN_MAX_GRID_IMAGES,
  };
}

export interface LimitIssue {
  /** The Config field: "batchSize", "network" or "sampleColumns". */
  path: string;
  message: string;
}

/** 3120000000 → "3,120,000,000" (locale-free, so messages read the same on every server). */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "more than 10^15";
  if (n >= 1e15) return `about ${n.toExponential(1).replace("e+", "·10^")}`;
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Bytes as people read them: "9.1 GiB", "512 MiB", "4 GiB"; `digits` decimals at most, trailing zeros dropped. */
export function formatBytes(bytes: number, digits = 1): string {
  if (!Number.isFinite(bytes)) return "more than 10^15 GiB";
  const [unit, size] = bytes >= 2 ** 30 ? ["GiB", 2 ** 30] : bytes >= 2 ** 20 ? ["MiB", 2 ** 20] : ["KiB", 2 ** 10];
  const value = bytes / (size as number);
  const text = value >= 1e6 ? formatCount(value) : value.toFixed(digits).replace(/\.?0+$/, "");
  return `${text} ${unit}`;
}

/** Layers in each part of a spec, from array lengths alone (a parsed spec or raw input; anything else counts 0). */
export function countLayers(spec: unknown): { generator: number; discriminator: number; total: number } {
  const length = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  const s = typeof spec === "object" && spec !== null ? (spec as { generator?: unknown; discriminator?: unknown }) : {};
  const generator = length(s.generator);
  const discriminator = length(s.discriminator);
  return { generator, discriminator, total: generator + discriminator };
}

/**
 * The layer count of an inline spec against the limit, before it is resolved. `spec` may be a parsed spec, a
 * Config's raw `network` value or a built-in name (a name is never too large: nothing to check).
 */
export function checkSpecSize(spec: unknown, limits: ConfigLimits): LimitIssue[] {
  if (typeof spec !== "object" || spec === null) return [];
  const n = countLayers(spec);
  if (n.total <= limits.maxLayers) return [];
  return [
    {
      path: "network",
      message:
        `the network has ${formatCount(n.total)} layers (generator ${formatCount(n.generator)}, discriminator ${formatCount(n.discriminator)}); ` +
        `this server allows at most ${formatCount(limits.maxLayers)}`,
    },
  ];
}

function checkBatchSize(batchSize: unknown, limits: ConfigLimits): LimitIssue[] {
  if (typeof batchSize !== "number" || !(batchSize > limits.maxBatchSize)) return [];
  return [{ path: "batchSize", message: `BatchSize ${batchSize} is over this server's limit of ${limits.maxBatchSize}` }];
}

/**
 * What can be checked before the spec is resolved: BatchSize and the layer count of an inline spec. Takes a parsed
 * Config or raw input (a raw one is checked before it is parsed, so a huge spec is refused by its length alone).
 */
export function checkConfigBeforeResolve(config: unknown, limits: ConfigLimits): LimitIssue[] {
  if (typeof config !== "object" || config === null) return [];
  const c = config as { batchSize?: unknown; network?: unknown };
  return [...checkBatchSize(c.batchSize, limits), ...checkSpecSize(c.network, limits)];
}

const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Every parameter's values, running mean and variance included. */
export function countParameters(resolved: ResolvedSpec): number {
  return resolved.parameters.reduce((sum, p) => sum + elements(p.shape), 0);
}

/** Activation values one image needs in one iteration, before the ×2 for gradients (the formula in the header). */
export function activationsPerImage(resolved: ResolvedSpec): number {
  const sum = (part: PartName) => resolved.layers[part].reduce((a, l) => a + elements(l.outShape), 0);
  return sum("generator") + 2 * sum("discriminator");
}

/** The estimated bytes of one training iteration at `batchSize` (the formula in the header). */
export function estimateIterationBytes(resolved: ResolvedSpec, batchSize: number): number {
  return 2 * activationsPerImage(resolved) * batchSize * 4 + countParameters(resolved) * 16;
}

/** The largest BatchSize whose iteration fits `maxBytes` (0 when not even one image does). */
export function largestBatchThatFits(resolved: ResolvedSpec, maxBytes: number): number {
  const room = maxBytes - countParameters(resolved) * 16;
  const perImage = 8 * activationsPerImage(resolved);
  if (!(room > 0) || !(perImage > 0) || !Number.isFinite(perImage)) return 0;
  return Math.floor(room / perImage);
}

/**
 * Everything over the limits in a parsed Config with its resolved spec (for a built-in network, the spec adapted
 * to the run's data set): BatchSize, layers, parameters, activation memory, the sample grid. Empty when it fits.
 */
export function checkConfigLimits(config: Config, resolved: ResolvedSpec, limits: ConfigLimits): LimitIssue[] {
  const issues = checkBatchSize(config.batchSize, limits);
  const layers = resolved.layers.generator.length + resolved.layers.discriminator.length;
  if (layers > limits.maxLayers) {
    issues.push(...checkSpecSize(resolved.spec, limits));
  }
  const parameters = countParameters(resolved);
  if (!(parameters <= limits.maxParameters)) {
    issues.push({
      path: "network",
      message: `the network has ${formatCount(parameters)} parameters; this server allows at most ${formatCount(limits.maxParameters)}`,
    });
  }
  const bytes = estimateIterationBytes(resolved, config.batchSize);
  if (!(bytes <= limits.maxActivationBytes)) {
    const fits = Math.min(largestBatchThatFits(resolved, limits.maxActivationBytes), limits.maxBatchSize);
    const limitText = formatBytes(limits.maxActivationBytes);
    // Enough decimals that an estimate just over the limit does not read as the limit itself.
    let digits = 1;
    while (digits < 3 && formatBytes(bytes, digits) === limitText) digits++;
    const advice =
      fits >= 1
        ? `lower BatchSize to ${fits} or less`
        : `not even BatchSize 1 fits: the network's parameters alone take about ${formatBytes(parameters * 16)} with their gradients and Adam's moments; use a smaller network`;
    issues.push({
      path: "network",
      message: `one iteration at BatchSize ${config.batchSize} needs about ${formatBytes(bytes, digits)} of activations; this server allows ${limitText}: ${advice}`,
    });
  }
  const labels = resolved.spec.numLabels;
  const grid = labels * config.sampleColumns;
  if (grid > limits.maxGridImages) {
    const columns = Math.floor(limits.maxGridImages / labels);
    issues.push({
      path: "sampleColumns",
      message:
        `the sample grid would hold ${formatCount(grid)} images (${formatCount(labels)} labels × ${config.sampleColumns} columns); this server allows at most ${formatCount(limits.maxGridImages)}: ` +
        (columns >= 1 ? `lower sampleColumns to ${columns} or less` : `not even one column of ${formatCount(labels)} labels fits`),
    });
  }
  return issues;
}

/**
 * The spec a Config names, resolved as it stands: an inline spec, or a built-in one for its own 28×28 digits
 * ({@link specForConfig} without a data set). A server resolves a built-in network for the run's data set instead
 * (DatasetService.specForRun); this is for callers without a data set at hand.
 */
export function resolveConfigSpec(config: Config): ResolvedSpec {
  return resolveSpec(specForConfig(config));
}

/** One line for an error message: "batchSize: …; network: …". */
export function describeLimitIssues(issues: LimitIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join("; ");
}
