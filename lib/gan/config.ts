/**
 * A run's Config, as NNC's Config tab has it: one flat, commented schema with defaults.
 * Unknown keys are rejected (a typo must not silently train with a default). A run stores the parsed config it
 * ran with, and every checkpoint carries it.
 */
import { z } from "zod";
import { BUILTIN_SPECS, NetworkSpecSchema, TRAINING_NETWORKS } from "./spec";
import { ALPHA_MAX, LR_MULTIPLIER, PARAMETER_NAMES, type SolverName } from "./vocabulary";

/** NNC's Alpha (the learning rate) of a solver: above 0, at most its ALPHA_MAX; the same check in the Config and live. */
export const alphaSchema = (solver: SolverName) =>
  z
    .number()
    .positive({ error: (iss) => `α must be above 0, got ${String(iss.input)}` })
    .max(ALPHA_MAX[solver], { error: (iss) => `${solver}'s α is at most ${ALPHA_MAX[solver]}, got ${String(iss.input)}` });

export const OptimizerSchema = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("Adam"),
      /** NNC's Alpha: the learning rate. */
      alpha: alphaSchema("Adam").default(0.0005),
      beta1: z.number().min(0).lt(1).default(0.5),
      beta2: z.number().min(0).lt(1).default(0.999),
      eps: z.number().positive().default(1e-8),
    })
    .strict(),
  z.object({ type: z.literal("Sgd"), alpha: alphaSchema("Sgd").default(0.001) }).strict(),
  z
    .object({
      type: z.literal("Momentum"),
      alpha: alphaSchema("Momentum").default(0.001),
      momentum: z.number().min(0).lt(1).default(0.9),
    })
    .strict(),
]);
export type Optimizer = z.infer<typeof OptimizerSchema>;
export type OptimizerInput = z.input<typeof OptimizerSchema>;

const defaultAdam = (): Optimizer => ({ type: "Adam", alpha: 0.0005, beta1: 0.5, beta2: 0.999, eps: 1e-8 });

/** What a user reads when an LRateMultiplier is out of LR_MULTIPLIER (the Config, the protocol, the API and the engine). */
export const lrMultiplierRangeMessage = (value: unknown) =>
  `LRateMultiplier must be a number from ${LR_MULTIPLIER.min} to ${LR_MULTIPLIER.max} (0 freezes the parameter), got ${String(value)}`;

/** An LRateMultiplier: within LR_MULTIPLIER; the same check in the Config, the protocol and the API. */
export const lrMultiplierSchema = () =>
  z
    .number()
    .min(LR_MULTIPLIER.min, { error: (iss) => lrMultiplierRangeMessage(iss.input) })
    .max(LR_MULTIPLIER.max, { error: (iss) => lrMultiplierRangeMessage(iss.input) });

/** Per parameter LRateMultiplier: { Affine: { W: 0 } } freezes Affine's W. 1 when not given. */
export const LrMultipliersSchema = z
  .record(z.string().max(100), z.partialRecord(z.enum(PARAMETER_NAMES), lrMultiplierSchema()))
  .refine((m) => Object.keys(m).length <= 1000, { message: "at most 1,000 ParameterScopes" });

export const ConfigSchema = z
  .object({
    /** NNC MaxEpoch: passes over the training data. */
    maxEpoch: z.number().int().min(1).max(100_000).default(100),
    /** NNC BatchSize: images per iteration (and per network update). */
    batchSize: z.number().int().min(1).max(65_536).default(64),
    /**
     * NNC Save Best. Off (the default) keeps the last epoch's weights as the result: a GAN's lowest loss is not its
     * best generator. On, the checkpoint with the lowest Generator validation loss is also kept as `best`.
     */
    saveBest: z.boolean().default(false),
    /** Seeds weight initialisation, batch order and noise (the train/validation split is fixed: SPLIT_SEED). */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(1),
    /** A built-in network spec by name, or a whole spec. */
    network: z.union([z.enum(Object.keys(BUILTIN_SPECS) as [keyof typeof BUILTIN_SPECS]), NetworkSpecSchema]).default("nnc-dcgan-with-label"),
    /** The data set: the bundled 10,000 MNIST digits, or an imported one by id. */
    dataset: z.string().min(1).max(4096).default("mnist-bundled"),
    /** Share of the data set held out for validation (and the evaluator), split per label with SPLIT_SEED. */
    validationFraction: z
      .number()
      .min(0)
      .max(0.5)
      .default(1 / 6),
    /** Train on the first N training images only (0: all of them). For quick runs and tests. */
    limit: z.number().int().min(0).max(100_000_000).default(0),
    /** One optimizer per training network, as NNC's Optimizer tab. */
    optimizers: z
      .object({
        Generator: OptimizerSchema.default(defaultAdam),
        DiscriminatorFake: OptimizerSchema.default(defaultAdam),
        DiscriminatorReal: OptimizerSchema.default(defaultAdam),
      })
      .strict()
      .default(() => ({ Generator: defaultAdam(), DiscriminatorFake: defaultAdam(), DiscriminatorReal: defaultAdam() })),
    /** Initial LRateMultipliers by ParameterScope; they can be changed while the run trains. */
    lrMultipliers: LrMultipliersSchema.default(() => ({})),
    /** Sample grid columns per label row; the grid's noise is fixed for the whole run. */
    sampleColumns: z.number().int().min(1).max(32).default(10),
    /**
     * Diagnostics every epoch: label accuracy, coverage, Fréchet distance, precision/recall, diversity, D(x), and the
     * collapse alarm (docs/diagnostics.md). The first run on a data set trains its evaluator (about 40 s here), cached.
     */
    diagnostics: z.boolean().default(true),
    /** Checkpoint every N epochs (the last epoch always). */
    checkpointEvery: z.number().int().min(1).max(100_000).default(1),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

/**
 * The training/validation split of a data set uses this fixed seed, not the run's: every run on a data set trains
 * on the same images and shares one evaluator, which never sees them.
 */
export const SPLIT_SEED = 0;
export type ConfigInput = z.input<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parses a config with defaults; throws {@link ConfigError} listing every problem with its path. */
export function parseConfig(input: unknown): Config {
  const parsed = ConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join(".") || "(root)", message: i.message }));
    throw new ConfigError(`invalid config: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
  }
  return parsed.data;
}

export { TRAINING_NETWORKS };
