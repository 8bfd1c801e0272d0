/**
 * What the run service pushes to a session, and the shapes it pushes: the Broadcaster (socket.io in the server, an
 * array in tests), a run's status push, a sample grid's URL. Activity entries are pushed by server/activity/log.ts.
 */
import type { RunStatus } from "../../lib/gan/vocabulary";
import type { ParametersPush } from "../../lib/protocol/parameters";
import type { ActivityPush, DiagnosticsPush, GridPush, LossPoint, RunStatusPush } from "../../lib/protocol/socket";

/** Where pushes go; socket.io in the server, an array in tests. */
export interface Broadcaster {
  losses(sessionId: string, runId: string, points: LossPoint[]): void;
  status(sessionId: string, push: RunStatusPush): void;
  grid(sessionId: string, push: GridPush): void;
  diagnostics(sessionId: string, push: DiagnosticsPush): void;
  activity(sessionId: string, entry: ActivityPush): void;
  /** A control took effect (the change itself: browsers apply it to their parameter table with applyControl). */
  parameters(sessionId: string, push: ParametersPush): void;
}

export const gridUrl = (runId: string, epoch: number) => `/api/runs/${runId}/grids/${epoch}.png`;

/** A run's row as its status push (without its place in the trainer queue: RunContext.statusPush adds it). */
export function statusOf(run: {
  id: string;
  status: RunStatus;
  iteration: number;
  epoch: number;
  backend: string | null;
  failureReason: string | null;
}): RunStatusPush {
  return { runId: run.id, status: run.status, iteration: run.iteration, epoch: run.epoch, backend: run.backend, reason: run.failureReason };
}
