/**
 * The RuntimeGenerator's weights as the server serves them to a page (`GET /api/runs/:id/generator/model.json`, then
 * its `weights-<iteration>.bin`): TensorFlow.js's tf.io layout, one manifest group of float32 tensors, with what a
 * page needs to build the generator in `userDefinedMetadata`. Written by server/runs/generator-weights.ts, read by
 * lib/gan/page-generator.ts.
 */
import { z } from "zod";

export const GENERATOR_WEIGHTS_FORMAT = "gan-studio-runtime-generator";

export const GeneratorModelJsonSchema = z.object({
  format: z.literal(GENERATOR_WEIGHTS_FORMAT),
  generatedBy: z.string(),
  weightsManifest: z
    .array(
      z.object({
        paths: z.array(z.string()).length(1),
        weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), dtype: z.literal("float32") })),
      }),
    )
    .length(1),
  userDefinedMetadata: z.object({
    runId: z.string(),
    /** The version: the iteration these weights are of. */
    iteration: z.number().int().min(0),
    epoch: z.number().min(0),
    createdAt: z.string(),
    /** The run's network spec (lib/gan/spec): the page builds the generator part of it. */
    spec: z.unknown(),
    /** The generator's ParameterScopes: every tensor of the manifest is one of theirs. */
    scopes: z.array(z.string()),
    seed: z.number().int(),
  }),
});
export type GeneratorModelJson = z.infer<typeof GeneratorModelJsonSchema>;
