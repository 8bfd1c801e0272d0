/**
 * The typed socket.io contract between the server and the browser (imported by both). Controls are tRPC
 * mutations; the socket carries subscriptions and what the server pushes. Every push carries the run and the
 * iteration it belongs to, so a client that read the history first can drop what it already has.
 */
import { z } from "zod";
import type { ActivityPush } from "./activity";
import type { ParametersPush } from "./parameters";
import type { RunStatus } from "../gan/vocabulary";

export const SOCKET_PROTOCOL_VERSION = 2;

export interface LossPoint {
  iteration: number;
  epoch: number;
  gReal: number;
  fake: number;
  real: number;
  /** When the server received it from the trainer (ms since the epoch), on live pushes only. */
  at?: number;
}

/** Every status a run can have (lib/gan/vocabulary.ts RUN_STATUSES); "queued": waiting for a trainer slot. */
export type RunStatusName = RunStatus;

export interface RunStatusPush {
  runId: string;
  status: RunStatusName;
  iteration: number;
  epoch: number;
  backend: string | null;
  reason: string | null;
  imagesPerSec?: number;
  /**
   * While the run is "queued": how many runs are ahead of it in the server's trainer queue (0: it starts next).
   * Pushed again to the run's session each time the queue moves; absent in every other status.
   */
  queuePosition?: number;
}

export interface GridPush {
  runId: string;
  epoch: number;
  iteration: number;
  /** Where the PNG is served: GET it with the session cookie. */
  url: string;
}

/** An activity entry as pushed: its kind with that kind's detail, typed (lib/protocol/activity.ts). */
export type { ActivityPush } from "./activity";

export interface PresenceUser {
  userId: string;
  name: string;
  role: string;
}

/** An epoch's diagnostics (docs/diagnostics.md) and the collapse alarms raised at that epoch. */
export interface DiagnosticsPush {
  runId: string;
  epoch: number;
  iteration: number;
  metrics: Record<string, number>;
  alarms: { rule: string; epoch: number; message: string }[];
}

/**
 * A data set import under way in the session: everyone in the session sees the bar. `importId` is chosen by the
 * browser that uploads (so it can match its own import); phases: receiving (the upload), reading (the archive),
 * decoding (images), storing, then done or failed (with the error as the import reported it).
 */
export interface DatasetProgressPush {
  sessionId: string;
  importId: string;
  name: string;
  userName: string;
  phase: "receiving" | "reading" | "decoding" | "storing" | "done" | "failed";
  done: number;
  total: number;
  datasetId?: string;
  error?: { code: string; message: string; file?: string; row?: number };
}

/** GReal, Fake and Real of one downsampled bucket (its lowest or highest of each). */
export interface LossExtremes {
  gReal: number;
  fake: number;
  real: number;
}

/**
 * One bucket of a run's downsampled overview: the points with iteration in [iteration, last], `count` of them. The
 * losses are their means, `min` and `max` their extremes (so a spike stays visible as a band); `epoch` is the first
 * point's. Never a full-resolution point: the chart draws full-resolution points wherever it holds them.
 */
export interface LossOverviewPoint extends LossPoint {
  last: number;
  count: number;
  min: LossExtremes;
  max: LossExtremes;
}

/** A run's whole shape: buckets of `bucket` iterations each (a power of two), from iteration 0 on. */
export interface LossOverview {
  bucket: number;
  points: LossOverviewPoint[];
}

/** One page of full-resolution points of an iteration range (`runs.historyRange`); `nextFrom` continues it. */
export interface LossPage {
  points: LossPoint[];
  /** Where the next page starts (pass it as fromIteration), or null when the range has no more points. */
  nextFrom: number | null;
}

/**
 * What a joiner gets (the socket `join` reply and `runs.history`). A run of at most GAN_HISTORY_PAGE_POINTS points
 * comes whole in `losses` (`overview` null); a longer one comes as an overview of the whole run (at most
 * GAN_HISTORY_OVERVIEW_POINTS buckets) plus its last GAN_HISTORY_PAGE_POINTS points at full resolution in `losses`;
 * other ranges at full resolution come from `runs.historyRange`.
 */
export interface RunHistory {
  run: RunStatusPush & { name: string; totalIterations: number | null; iterationsPerEpoch: number | null };
  /** The whole run downsampled, up to `lastIteration`; null when `losses` holds every point. */
  overview: LossOverview | null;
  /** Full resolution: every point of a short run, the last GAN_HISTORY_PAGE_POINTS points (the tail) of a long one. */
  losses: LossPoint[];
  grids: { epoch: number; iteration: number; url: string }[];
  diagnostics: DiagnosticsPush[];
  /** The last iteration in `losses`: the live stream continues after it (live points at or before it are duplicates). */
  lastIteration: number | null;
}

export type Ack<T> = { data: T } | { error: { code: string; message: string } };

/**
 * What the server a page is connected to knows of the services it stands on. Pushed by that server to its own
 * connections when it changes, and to a new connection while something is down (a page assumes all is well until
 * told otherwise). No error text: it could name hosts; health (loopback or operators) has it.
 */
export interface ServicesPush {
  /** Whether the database answers, and which one. */
  database: { kind: "sqlite" | "postgresql"; ok: boolean };
  /** Whether Redis answers; null when the server is one process alone (no Redis). */
  redis: { ok: boolean } | null;
  /** When this state began (ms since the epoch). */
  since: number;
}

export interface ServerToClientEvents {
  "run:losses": (push: { runId: string; points: LossPoint[] }) => void;
  "run:status": (push: RunStatusPush) => void;
  "run:grid": (push: GridPush) => void;
  "run:diagnostics": (push: DiagnosticsPush) => void;
  activity: (entry: ActivityPush) => void;
  /** A control took effect: the change itself, applied to the cached `runs.parameters` with applyControl (lib/protocol/parameters.ts). */
  "run:parameters": (push: ParametersPush) => void;
  presence: (push: { sessionId: string; users: PresenceUser[] }) => void;
  "dataset:progress": (push: DatasetProgressPush) => void;
  /** The state of this server's database and Redis, when it changes (see ServicesPush). */
  services: (push: ServicesPush) => void;
}

/**
 * `v` is the page's SOCKET_PROTOCOL_VERSION: a join without it, or with another, is refused with
 * UNSUPPORTED_PROTOCOL before anything else is read (the page is older or newer than the server: reload it).
 */
const JoinId = z
  .string()
  .min(1)
  .max(100)
  .refine((id) => !id.includes("\u0000"), "must not hold a NUL character");
export const JoinSchema = z.object({ v: z.literal(SOCKET_PROTOCOL_VERSION), sessionId: JoinId, runId: JoinId.optional() }).strict();
/** The refusal of a join whose protocol version is not the server's. */
export const UNSUPPORTED_PROTOCOL = { code: "UNSUPPORTED_PROTOCOL", message: "this page is older than the server: reload it" } as const;

export interface ClientToServerEvents {
  /** Join a session's room (and a run's history). Subscribes first, then reads the history, so nothing falls between. */
  join: (request: z.input<typeof JoinSchema>, ack: (reply: Ack<{ role: string; history: RunHistory | null; presence: PresenceUser[] }>) => void) => void;
  leave: (request: { sessionId: string }) => void;
}
