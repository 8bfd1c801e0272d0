/**
 * The typed socket.io contract between the server and the browser (imported by both). Controls are tRPC
 * mutations; the socket carries subscriptions and what the server pushes. Every push carries the run and the
 * iteration it belongs to, so a client that read the history first can drop what it already has.
 */
import { z } from "zod";

export const SOCKET_PROTOCOL_VERSION = 1;

export interface LossPoint {
  iteration: number;
  epoch: number;
  gReal: number;
  fake: number;
  real: number;
  /** When the server received it from the trainer (ms since the epoch), on live pushes only. */
  at?: number;
}

export interface RunStatusPush {
  runId: string;
  status: string;
  iteration: number;
  epoch: number;
  backend: string | null;
  reason: string | null;
  imagesPerSec?: number;
}

export interface GridPush {
  runId: string;
  epoch: number;
  iteration: number;
  /** Where the PNG is served: GET it with the session cookie. */
  url: string;
}

export interface ActivityPush {
  id: string;
  sessionId: string;
  runId: string | null;
  userId: string | null;
  userName: string | null;
  kind: string;
  detail: Record<string, unknown>;
  iteration: number | null;
  createdAt: string;
}

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

export interface RunHistory {
  run: RunStatusPush & { name: string; totalIterations: number | null; iterationsPerEpoch: number | null };
  losses: LossPoint[];
  grids: { epoch: number; iteration: number; url: string }[];
  diagnostics: DiagnosticsPush[];
  /** The last iteration in `losses`; live points at or before it are duplicates. */
  lastIteration: number | null;
}

export type Ack<T> = { data: T } | { error: { code: string; message: string } };

export interface ServerToClientEvents {
  "run:losses": (push: { runId: string; points: LossPoint[] }) => void;
  "run:status": (push: RunStatusPush) => void;
  "run:grid": (push: GridPush) => void;
  "run:diagnostics": (push: DiagnosticsPush) => void;
  activity: (entry: ActivityPush) => void;
  presence: (push: { sessionId: string; users: PresenceUser[] }) => void;
  "dataset:progress": (push: DatasetProgressPush) => void;
}

export const JoinSchema = z.object({ sessionId: z.string().min(1).max(100), runId: z.string().min(1).max(100).optional() }).strict();

export interface ClientToServerEvents {
  /** Join a session's room (and a run's history). Subscribes first, then reads the history, so nothing falls between. */
  join: (request: z.input<typeof JoinSchema>, ack: (reply: Ack<{ role: string; history: RunHistory | null; presence: PresenceUser[] }>) => void) => void;
  leave: (request: { sessionId: string }) => void;
}
