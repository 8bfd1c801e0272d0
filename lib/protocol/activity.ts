/**
 * The activity log's entries, typed: each kind of lib/gan/vocabulary.ts's ACTIVITY_KINDS with the one shape its
 * `detail` has. Every writer records through the server's ActivityLog (server/activity/log.ts), which checks the
 * entry against this schema, stores it and pushes it (`activity`); the store parses each row back with it when
 * reading, and a row that does not parse (older data, a kind since removed) comes back as an "unknown" entry
 * instead of failing the page. The web app's texts (app/_lib/format.ts) switch on `kind` with the detail typed.
 */
import { z } from "zod";
import { type ActivityKind, PARAMETER_NAMES, ROLES, RUN_STATUSES, SOLVERS, TRAINING_NETWORKS } from "../gan/vocabulary";

export type { ActivityKind } from "../gan/vocabulary";

const count = z.number().int().min(0);
/** A training network's solver as an activity entry shows it: the solver and its α. */
export const OptimizerChoiceSchema = z.object({ type: z.enum(SOLVERS), alpha: z.number() });
export type OptimizerChoice = z.infer<typeof OptimizerChoiceSchema>;
/** One collapse alarm as the feed shows it (lib/gan/diagnostics' alarm without its evidence). */
const AlarmSchema = z.object({ rule: z.string(), epoch: z.number().int(), message: z.string() });

/** An LRateMultiplier that took effect: `from` → `to` on one parameter of one ParameterScope. */
export const LrMultiplierDetailSchema = z.object({ scope: z.string().min(1), param: z.enum(PARAMETER_NAMES), from: z.number(), to: z.number() });
/** A training network's solver changed (today only its α is changed live). */
export const OptimizerDetailSchema = z.object({ network: z.enum(TRAINING_NETWORKS), from: OptimizerChoiceSchema, to: OptimizerChoiceSchema });

const entry = <K extends ActivityKind, D extends z.ZodType>(kind: K, detail: D) => z.object({ kind: z.literal(kind), detail });

/** Every kind with its detail: the one place an entry's shape is written down. */
export const ActivityChangeSchema = z.discriminatedUnion("kind", [
  /** A run was created from this Config (as parsed, defaults filled in). */
  entry("run.created", z.object({ name: z.string(), config: z.record(z.string(), z.unknown()) })),
  /** Started from scratch; `fromQueue` when it waited in the trainer queue and started by itself. */
  entry("run.started", z.object({ fromQueue: z.boolean().optional() })),
  /** Continued from its latest checkpoint (written at `checkpointIteration`). */
  entry("run.resumedFromCheckpoint", z.object({ checkpointIteration: count, fromQueue: z.boolean().optional() })),
  /** Every trainer slot was taken: the run waits with `ahead` runs before it, of a server with `slots` slots. */
  entry("run.queued", z.object({ ahead: count, slots: count })),
  /** Taken out of the trainer queue, back to the status it had (`status`). */
  entry("run.unqueued", z.object({ status: z.enum(RUN_STATUSES) })),
  entry("run.pause", z.object({})),
  entry("run.resume", z.object({})),
  entry("run.stop", z.object({})),
  entry("run.completed", z.object({})),
  /** The trainer failed, or its process ended unexpectedly: why, in words. */
  entry("run.failed", z.object({ reason: z.string() })),
  /** The trainer reported an error it went on after. */
  entry("run.error", z.object({ message: z.string() })),
  entry("control.lrMultiplier", LrMultiplierDetailSchema),
  entry("control.optimizer", OptimizerDetailSchema),
  /** Diagnostics raised collapse alarms; `pausing` when the session pauses on collapse. */
  entry("collapse.alarm", z.object({ alarms: z.array(AlarmSchema), pausing: z.boolean() })),
  /** Joined through an invite link as `role` (`from`: the role they had, when a link raised it). */
  entry("member.joined", z.object({ role: z.enum(ROLES), from: z.enum(ROLES).optional() })),
  /** The owner changed a member's role. `member`: their name then (null when the account is gone). */
  entry("member.role", z.object({ memberId: z.string(), member: z.string().nullable(), from: z.enum(ROLES), to: z.enum(ROLES) })),
  /** The owner removed a member who had `role`. */
  entry("member.removed", z.object({ memberId: z.string(), member: z.string().nullable(), role: z.enum(ROLES) })),
  /** A data set imported into the session; `reused` when the store already held the same images. */
  entry(
    "dataset.imported",
    z.object({
      datasetId: z.string(),
      name: z.string(),
      count,
      imageShape: z.tuple([count, count, count]),
      numLabels: count,
      reused: z.boolean(),
    }),
  ),
  entry("dataset.deleted", z.object({ datasetId: z.string(), name: z.string() })),
  entry("session.pauseOnCollapse", z.object({ from: z.boolean(), to: z.boolean() })),
]);
/** What happened: a kind and its detail. */
export type ActivityChange = z.infer<typeof ActivityChangeSchema>;
/** The detail of one kind. */
export type ActivityDetail<K extends ActivityKind> = Extract<ActivityChange, { kind: K }>["detail"];

// Every kind of the vocabulary has its detail here, and nothing else (tests/unit/activity-schema.test.ts checks it at run time).
type Missing = Exclude<ActivityKind, ActivityChange["kind"]>;
const _everyKindHasADetail: [Missing] extends [never] ? true : Missing = true;
void _everyKindHasADetail;

/** What a writer records (server/activity/log.ts): the change, where and by whom. */
export type ActivityInput = ActivityChange & {
  sessionId: string;
  runId?: string | null;
  userId?: string | null;
  iteration?: number | null;
};

/** What every stored entry carries besides its change. */
export interface ActivityMeta {
  id: string;
  sessionId: string;
  runId: string | null;
  userId: string | null;
  /** The acting user's name, or null (no user, or the account was deleted). */
  userName: string | null;
  iteration: number | null;
  /** ISO time on the wire (the store's records carry a Date). */
  createdAt: string;
}

/** A stored row whose kind or detail does not fit the schema (older data): shown, never acted on. */
export interface UnknownActivity {
  kind: "unknown";
  /** The row's kind and its detail as stored (JSON text). */
  detail: { kind: string; json: string };
}

/** An entry as pushed (`activity`): always one the schema knows, as the ActivityLog checked it before storing. */
export type ActivityPush = ActivityMeta & ActivityChange;
/** An entry as read (`sessions.activity`): a known one, or a row kept as unknown. */
export type ActivityEntry = ActivityMeta & (ActivityChange | UnknownActivity);

/** The change a stored row holds, or why it does not parse (the store keeps it as an unknown entry then). */
export function parseActivityChange(kind: string, detail: unknown): { ok: true; change: ActivityChange } | { ok: false; problem: string } {
  const parsed = ActivityChangeSchema.safeParse({ kind, detail });
  if (parsed.success) return { ok: true, change: parsed.data };
  return { ok: false, problem: parsed.error.issues.map((i) => `${i.path.join(".") || "(entry)"}: ${i.message}`).join("; ") };
}
