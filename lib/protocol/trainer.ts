/**
 * Messages between the server and a trainer process (the "GPU server process"), over Node's IPC channel with
 * structured-clone serialisation (so PNG bytes travel as Uint8Array). Both sides parse what they receive with
 * these schemas; a message that does not parse is answered with an error, never acted on.
 *
 * Versioned: every message carries `v`. A trainer and a server of different protocol versions refuse each other
 * at the handshake (`hello`).
 */
import { z } from "zod";
import { ConfigSchema, OptimizerSchema, lrMultiplierSchema } from "../gan/config";
import { ALPHA_MAX_ANY, PARTS, SOLVERS, TRAINER_STATUSES, TRAINING_NETWORKS } from "../gan/vocabulary";

export const TRAINER_PROTOCOL_VERSION = 1;
const v = z.literal(TRAINER_PROTOCOL_VERSION);
const requestId = z.string().min(1).max(64);
/** PNG bytes (structured clone keeps them a Uint8Array across the process boundary). */
const png = z.custom<Uint8Array>((x) => x instanceof Uint8Array, "expected PNG bytes (Uint8Array)");

// ---- server → trainer -------------------------------------------------------------------------------------

export const TrainerCommandSchema = z.discriminatedUnion("type", [
  /** Build the trainer (fresh from `config`, or from the checkpoint in `resumeFrom`) and start training. */
  z.object({
    v,
    type: z.literal("start"),
    runId: z.string().min(1),
    config: ConfigSchema,
    outDir: z.string().min(1),
    resumeFrom: z.string().min(1).optional(),
    backend: z.string().optional(),
    /** Start paused (e.g. a resumed run the user wants to inspect first). */
    paused: z.boolean().default(false),
  }),
  z.object({ v, type: z.literal("pause") }),
  z.object({ v, type: z.literal("resume") }),
  z.object({ v, type: z.literal("stop") }),
  /** `param` stays a string: the engine names the trainable parameters in its refusal (a statistic such as "mean" has none). */
  z.object({ v, type: z.literal("setLrMultiplier"), requestId, scope: z.string().min(1), param: z.string().min(1), value: lrMultiplierSchema() }),
  z.object({
    v,
    type: z.literal("setOptimizer"),
    requestId,
    network: z.enum(TRAINING_NETWORKS),
    /** A partial change, e.g. { alpha: 0.0002 }; the engine merges it and checks α against its solver's ALPHA_MAX. */
    settings: z
      .object({
        type: z.enum(SOLVERS).optional(),
        alpha: z.number().positive().max(ALPHA_MAX_ANY).optional(),
        beta1: z.number().optional(),
        beta2: z.number().optional(),
        eps: z.number().optional(),
        momentum: z.number().optional(),
      })
      .strict(),
  }),
  /** RuntimeGenerator from the live weights, between two iterations. */
  z.object({
    v,
    type: z.literal("generate"),
    requestId,
    label: z.number().int(),
    seed: z.number().int().min(0),
    count: z.number().int().min(1).max(64).default(1),
    /** When set: interpolate from `seed` to this seed in `count` steps. */
    seedB: z.number().int().min(0).optional(),
  }),
  /** Write `latest/` now (between iterations) and reply with its path. */
  z.object({ v, type: z.literal("checkpoint"), requestId }),
  /** Pause, write a checkpoint, reply, then exit. */
  z.object({ v, type: z.literal("shutdown"), requestId }),
]);
export type TrainerCommand = z.infer<typeof TrainerCommandSchema>;
export type TrainerCommandInput = z.input<typeof TrainerCommandSchema>;

// ---- trainer → server -------------------------------------------------------------------------------------

const Losses = z.object({ GReal: z.number(), Fake: z.number(), Real: z.number() });
const Status = z.enum(TRAINER_STATUSES);
const ControlChange = z.union([
  z.object({ kind: z.literal("lrMultiplier"), scope: z.string(), param: z.string(), from: z.number(), to: z.number() }),
  z.object({ kind: z.literal("optimizer"), network: z.enum(TRAINING_NETWORKS), from: OptimizerSchema, to: OptimizerSchema }),
]);

/** The engine's TrainerEvent, as it crosses the process boundary. */
export const TrainerEventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("status"),
    status: Status,
    iteration: z.number().int(),
    epoch: z.number().int(),
    backend: z.string(),
    reason: z.string().optional(),
  }),
  z.object({ type: z.literal("losses"), iteration: z.number().int(), epoch: z.number().int(), losses: Losses, msPerIter: z.number() }),
  z.object({
    type: z.literal("epoch"),
    epoch: z.number().int(),
    iteration: z.number().int(),
    seconds: z.number(),
    imagesPerSec: z.number(),
    monitor: z.number().nullable(),
  }),
  z.object({
    type: z.literal("sampleGrid"),
    epoch: z.number().int(),
    iteration: z.number().int(),
    png,
    rows: z.number().int(),
    cols: z.number().int(),
    labels: z.array(z.number().int()),
  }),
  z.object({
    type: z.literal("checkpoint"),
    epoch: z.number(),
    iteration: z.number().int(),
    dir: z.string(),
    kind: z.enum(["latest", "best"]),
    bytes: z.number().int(),
  }),
  z.object({ type: z.literal("control"), iteration: z.number().int(), change: ControlChange }),
  z.object({ type: z.literal("error"), iteration: z.number().int(), message: z.string() }),
  /** lib/gan/diagnostics' DiagnosticsReport: metrics by name, per-class rows, gradient norms, alarms raised now. */
  z.object({
    type: z.literal("diagnostics"),
    epoch: z.number().int(),
    iteration: z.number().int().nullable(),
    metrics: z.record(z.string(), z.number()),
    /** Per label; a ratio is null where it has nothing to divide (no image asked for the label, too few to compare). */
    perClass: z.array(z.record(z.string(), z.number().nullable())),
    gradNorms: z.array(z.object({ scope: z.string(), part: z.string(), norm: z.number() })),
    alarms: z.array(z.object({ rule: z.string(), epoch: z.number().int(), message: z.string(), evidence: z.unknown() })),
    activeAlarms: z.array(z.string()),
    timings: z.record(z.string(), z.number()),
  }),
]);
export type TrainerEventMessage = z.infer<typeof TrainerEventSchema>;

export const TrainerReplyError = z.object({ code: z.enum(["BAD_REQUEST", "NOT_READY", "INTERNAL"]), message: z.string() });

export const TrainerMessageSchema = z.discriminatedUnion("type", [
  /** First message of every trainer process: who it is and which protocol it speaks. */
  z.object({ v, type: z.literal("hello"), pid: z.number().int() }),
  /** The trainer is built: what it trains and on which backend. */
  z.object({
    v,
    type: z.literal("ready"),
    runId: z.string(),
    backend: z.object({ name: z.string(), detail: z.string() }),
    iteration: z.number().int(),
    iterationsPerEpoch: z.number().int(),
    totalIterations: z.number().int(),
    /** ParameterScopes with their part and layer type, and every LRateMultiplier now. */
    scopes: z.array(z.object({ scope: z.string(), part: z.enum(PARTS), layerType: z.string() })),
    lrMultipliers: z.record(z.string(), z.record(z.string(), z.number())),
    optimizers: z.record(z.string(), OptimizerSchema),
  }),
  z.object({ v, type: z.literal("event"), event: TrainerEventSchema }),
  /** The answer to a command with a requestId: `data` when ok, `error` when not. */
  z.object({ v, type: z.literal("reply"), requestId, ok: z.boolean(), data: z.unknown().optional(), error: TrainerReplyError.optional() }),
  /** The trainer cannot go on (bad config, data set missing, backend unavailable…); it exits after this. */
  z.object({ v, type: z.literal("fatal"), message: z.string() }),
]);
export type TrainerMessage = z.infer<typeof TrainerMessageSchema>;

/** Result of a `generate` command. */
export const GenerateReplySchema = z.object({
  count: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
  labels: z.array(z.number().int()),
  /** One PNG per image, and all of them side by side. */
  png: z.array(png),
  stripPng: png,
});
export type GenerateReply = z.infer<typeof GenerateReplySchema>;
