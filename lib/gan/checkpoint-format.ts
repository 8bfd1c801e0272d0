/**
 * A checkpoint's file format (model.json's schema): TensorFlow-free, so the server can read checkpoints' metadata and
 * weights (server/runs/generator-weights.ts) without the engine. lib/gan/checkpoint.ts reads and writes them.
 */
import { z } from "zod";
import { ConfigSchema, OptimizerSchema } from "./config";
import { NetworkSpecSchema, TRAINING_NETWORKS } from "./spec";

export const CHECKPOINT_FORMAT = "gan-studio-checkpoint";
export const CHECKPOINT_VERSION = 1;

export const WeightEntry = z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), dtype: z.literal("float32") });
export const ManifestGroup = z.object({ paths: z.array(z.string()).length(1), weights: z.array(WeightEntry) });

export const CheckpointMetaSchema = z.object({
  config: ConfigSchema,
  spec: NetworkSpecSchema,
  /** Iterations completed; training continues at this iteration index. */
  iteration: z.number().int().min(0),
  /** Epochs completed (may be fractional when written mid-epoch, e.g. on pause or shutdown). */
  epoch: z.number().min(0),
  iterationsPerEpoch: z.number().int().positive(),
  dataset: z.object({ ref: z.string(), trainCount: z.number().int(), numLabels: z.number().int() }),
  lrMultipliers: z.record(z.string(), z.record(z.string(), z.number())),
  solvers: z.record(z.enum(TRAINING_NETWORKS), z.object({ settings: OptimizerSchema, step: z.number().int().min(0) })),
  backend: z.string(),
  createdAt: z.string(),
  /** Which scopes the RuntimeGenerator needs (the generator part). */
  runtimeGenerator: z.object({ scopes: z.array(z.string()) }),
  /** Generator validation loss when written, for Save Best. */
  monitor: z.number().nullable(),
  /** The collapse detector's streaks (diagnostics on), so a resumed run neither repeats nor delays an alarm. */
  collapse: z.array(z.object({ rule: z.string(), epochs: z.array(z.number()), values: z.array(z.number()), raised: z.boolean() })).optional(),
});
export type CheckpointMeta = z.infer<typeof CheckpointMetaSchema>;

export const ModelJsonSchema = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  formatVersion: z.literal(CHECKPOINT_VERSION),
  generatedBy: z.string(),
  weightsManifest: z.array(ManifestGroup).min(1).max(2),
  userDefinedMetadata: CheckpointMetaSchema,
});
