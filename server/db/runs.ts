// Runs: created idle with their Config (stored as JSON), patched as the trainer reports, counted for the quotas, and
// put back where they can be started again after a crash (markInterrupted, resetQueued).
import { randomUUID } from "node:crypto";
import type { Prisma } from "./generated/client";
import { asStatus, type RunStatus, type StoreDb, storeError, toJson } from "./shared";

export const INTERRUPTED_REASON = "the server stopped while the run was training";
export const QUEUED_INTERRUPTED_REASON = "the server stopped while the run waited in the trainer queue";

export interface RunRecord {
  id: string;
  sessionId: string;
  createdById: string;
  name: string;
  status: RunStatus;
  /** The run's Config as it was stored (JSON), parsed back. */
  config: unknown;
  datasetRef: string;
  backend: string | null;
  iteration: number;
  epoch: number;
  iterationsPerEpoch: number | null;
  totalIterations: number | null;
  failureReason: string | null;
  outDir: string;
  createdAt: Date;
  updatedAt: Date;
}

export type RunPatch = Partial<{
  status: RunStatus;
  iteration: number;
  epoch: number;
  backend: string | null;
  failureReason: string | null;
  iterationsPerEpoch: number | null;
  totalIterations: number | null;
}>;

const runSelect = {
  id: true,
  sessionId: true,
  createdById: true,
  name: true,
  status: true,
  configJson: true,
  datasetRef: true,
  backend: true,
  iteration: true,
  epoch: true,
  iterationsPerEpoch: true,
  totalIterations: true,
  failureReason: true,
  outDir: true,
  createdAt: true,
  updatedAt: true,
} as const;

type RunRow = Prisma.RunGetPayload<{ select: typeof runSelect }>;

function toRun(row: RunRow): RunRecord {
  const { configJson, status, ...rest } = row;
  return { ...rest, status: asStatus(status), config: JSON.parse(configJson) as unknown };
}

export class RunStore {
  constructor(private readonly db: StoreDb) {}

  /** Creates the run with status "idle". `id` may be given (e.g. when outDir is named after it); otherwise a new UUID. */
  async createRun(input: {
    id?: string;
    sessionId: string;
    createdById: string;
    name: string;
    config: unknown;
    datasetRef: string;
    outDir: string;
  }): Promise<RunRecord> {
    const configJson = toJson(input.config, "the run's config");
    const createdAt = this.db.now();
    try {
      const row = await this.db.prisma.run.create({
        data: {
          id: input.id ?? randomUUID(),
          sessionId: input.sessionId,
          createdById: input.createdById,
          name: input.name,
          status: "idle",
          configJson,
          datasetRef: input.datasetRef,
          outDir: input.outDir,
          createdAt,
          updatedAt: createdAt,
        },
        select: runSelect,
      });
      return toRun(row);
    } catch (e) {
      throw storeError(e, {
        conflict: `a run with the id ${String(input.id)} already exists`,
        notFound: `no session ${input.sessionId} or no user ${input.createdById}`,
      });
    }
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const row = await this.db.prisma.run.findUnique({ where: { id }, select: runSelect });
    return row ? toRun(row) : null;
  }

  /** The session's runs, oldest first. */
  async listRuns(sessionId: string): Promise<RunRecord[]> {
    const rows = await this.db.prisma.run.findMany({ where: { sessionId }, orderBy: { createdAt: "asc" }, select: runSelect });
    return rows.map(toRun);
  }

  async updateRun(id: string, patch: RunPatch): Promise<RunRecord> {
    const data: Prisma.RunUpdateInput = { updatedAt: this.db.now() };
    if (patch.status !== undefined) data.status = patch.status;
    if (patch.iteration !== undefined) data.iteration = patch.iteration;
    if (patch.epoch !== undefined) data.epoch = patch.epoch;
    if (patch.backend !== undefined) data.backend = patch.backend;
    if (patch.failureReason !== undefined) data.failureReason = patch.failureReason;
    if (patch.iterationsPerEpoch !== undefined) data.iterationsPerEpoch = patch.iterationsPerEpoch;
    if (patch.totalIterations !== undefined) data.totalIterations = patch.totalIterations;
    try {
      return toRun(await this.db.prisma.run.update({ where: { id }, data, select: runSelect }));
    } catch (e) {
      throw storeError(e, { notFound: `no run ${id}` });
    }
  }

  /**
   * At server start after a crash: every run still marked running or paused becomes "interrupted", with the reason
   * (in a cluster: only `onlyIds`, the runs whose process is gone). Returns how many runs it marked.
   */
  async markInterrupted(onlyIds?: readonly string[]): Promise<number> {
    if (onlyIds && onlyIds.length === 0) return 0;
    const { count } = await this.db.prisma.run.updateMany({
      where: { status: { in: ["running", "paused"] }, ...(onlyIds ? { id: { in: [...onlyIds] } } : {}) },
      data: { status: "interrupted", failureReason: INTERRUPTED_REASON, updatedAt: this.db.now() },
    });
    return count;
  }

  /**
   * At server start: the trainer queue lived in memory, so a run still marked "queued" goes back to where it can be
   * started again: "interrupted" (resumable) when it has a latest checkpoint, else "idle" (a queued run is one of
   * the two: a run without a checkpoint can only be started from the beginning). Returns how many of each.
   */
  async resetQueued(onlyIds?: readonly string[]): Promise<{ idle: number; interrupted: number }> {
    const { prisma } = this.db;
    if (onlyIds && onlyIds.length === 0) return { idle: 0, interrupted: 0 };
    const queued = await prisma.run.findMany({
      where: { status: "queued", ...(onlyIds ? { id: { in: [...onlyIds] } } : {}) },
      select: { id: true, checkpoints: { where: { kind: "latest" }, take: 1, select: { id: true } } },
    });
    const resumable = queued.filter((r) => r.checkpoints.length > 0).map((r) => r.id);
    const fresh = queued.filter((r) => r.checkpoints.length === 0).map((r) => r.id);
    const updatedAt = this.db.now();
    const interrupted = resumable.length
      ? (
          await prisma.run.updateMany({
            where: { id: { in: resumable }, status: "queued" },
            data: { status: "interrupted", failureReason: QUEUED_INTERRUPTED_REASON, updatedAt },
          })
        ).count
      : 0;
    const idle = fresh.length
      ? (await prisma.run.updateMany({ where: { id: { in: fresh }, status: "queued" }, data: { status: "idle", failureReason: null, updatedAt } })).count
      : 0;
    return { idle, interrupted };
  }

  /** Runs a trainer holds or a queue waits on (running, paused, queued): in a cluster, checked against their process's lease. */
  async listActive(): Promise<{ id: string; status: RunStatus; sessionId: string }[]> {
    const rows = await this.db.prisma.run.findMany({
      where: { status: { in: ["running", "paused", "queued"] } },
      select: { id: true, status: true, sessionId: true },
    });
    return rows.map((r) => ({ ...r, status: asStatus(r.status) }));
  }

  /** Runs of a session, or runs a user created in all sessions (the runs quotas), any status. */
  async countRuns(where: { sessionId: string } | { createdById: string }): Promise<number> {
    return this.db.prisma.run.count({ where: "sessionId" in where ? { sessionId: where.sessionId } : { createdById: where.createdById } });
  }
}
