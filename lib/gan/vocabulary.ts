/**
 * The domain's closed sets and limits, in NNC's words, once: the engine, the typed messages (lib/protocol), the
 * server's store, routers and zod inputs, and the web app's options all derive from these lists. TensorFlow-free
 * and import-free, so every layer may use it (the web app included: .dependency-cruiser.cjs allows this file).
 */

/** The four networks of NNC's "DCGAN with label", sharing parameters by ParameterScope. */
export const NETWORK_NAMES = ["Generator", "DiscriminatorFake", "DiscriminatorReal", "RuntimeGenerator"] as const;
export type NetworkName = (typeof NETWORK_NAMES)[number];

/** The networks that train, each with its own solver (NNC's Optimizer tab); the RuntimeGenerator only infers. */
export const TRAINING_NETWORKS = ["Generator", "DiscriminatorFake", "DiscriminatorReal"] as const satisfies readonly NetworkName[];
export type TrainingNetworkName = (typeof TRAINING_NETWORKS)[number];

/** The two parts a network is built of. */
export const PARTS = ["generator", "discriminator"] as const;
export type PartName = (typeof PARTS)[number];

/** Parameters with an LRateMultiplier: Affine/Convolution/Deconvolution W and b, BatchNormalization beta and gamma. */
export const PARAMETER_NAMES = ["W", "b", "beta", "gamma"] as const;
export type ParameterName = (typeof PARAMETER_NAMES)[number];

/** NNC's solvers. */
export const SOLVERS = ["Adam", "Sgd", "Momentum"] as const;
export type SolverName = (typeof SOLVERS)[number];

/** LRateMultiplier: 0 freezes a parameter, 1 trains it at the solver's α. The same range in the Config and live. */
export const LR_MULTIPLIER = { min: 0, max: 100 } as const;

/** α (the learning rate) per solver: above 0, at most this; the same range in the Config and when changed live. */
export const ALPHA_MAX: Readonly<Record<SolverName, number>> = { Adam: 1, Sgd: 10, Momentum: 10 };
/** The largest α any solver takes (a live change is checked against its network's own solver too). */
export const ALPHA_MAX_ANY = Math.max(...Object.values(ALPHA_MAX));

/** A run's status as the server knows it. */
export const RUN_STATUSES = ["idle", "queued", "running", "paused", "stopped", "completed", "failed", "interrupted"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** The statuses a trainer process reports (lib/gan/trainer.ts): a run's, less "queued" and "interrupted", which only the server knows. */
export const TRAINER_STATUSES = ["idle", "running", "paused", "stopped", "completed", "failed"] as const satisfies readonly RunStatus[];
export type TrainerStatus = (typeof TRAINER_STATUSES)[number];
/** Statuses after which the run's trainer has ended (a stopped, failed or interrupted run can start again from its checkpoint). */
export const ENDED_STATUSES = ["completed", "stopped", "failed", "interrupted"] as const satisfies readonly RunStatus[];

/** A member's role in a session, lowest first. */
export const ROLES = ["viewer", "editor", "owner"] as const;
export type Role = (typeof ROLES)[number];
/** The roles an invite link can give (there is one owner). */
export const INVITE_ROLES = ["editor", "viewer"] as const satisfies readonly Role[];
/** True when `role` is at least `min`. */
export const roleAtLeast = (role: Role, min: Role): boolean => ROLES.indexOf(role) >= ROLES.indexOf(min);

/** What the activity feed records: who did what, when, at which iteration. */
export const ACTIVITY_KINDS = [
  "run.created",
  "run.started",
  "run.resumedFromCheckpoint",
  "run.queued",
  "run.unqueued",
  "run.pause",
  "run.resume",
  "run.stop",
  "run.completed",
  "run.failed",
  "run.error",
  "control.lrMultiplier",
  "control.optimizer",
  "collapse.alarm",
  "member.joined",
  "member.role",
  "member.removed",
  "dataset.imported",
  "dataset.deleted",
  "session.pauseOnCollapse",
] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];
