// The only place the server's code talks to the database. Every method is typed; JSON columns (Run.configJson,
// ActivityEntry.detail) are stored as strings and parsed back; ids are random UUIDs. Errors the caller can act on are
// StoreErrors (CONFLICT: a unique value taken; NOT_FOUND: a row or a row it points to does not exist).
import { createHash, randomUUID } from "node:crypto";
import { Prisma } from "./generated/client";
import type { Invite, PrismaClient } from "./generated/client";

export type Role = "owner" | "editor" | "viewer";
export type RunStatus = "idle" | "running" | "paused" | "stopped" | "completed" | "failed" | "interrupted";

export const ROLES: readonly Role[] = ["viewer", "editor", "owner"];
export const RUN_STATUSES: readonly RunStatus[] = ["idle", "running", "paused", "stopped", "completed", "failed", "interrupted"];
export const INTERRUPTED_REASON = "the server stopped while the run was training";

export type StoreErrorCode = "CONFLICT" | "NOT_FOUND";

export class StoreError extends Error {
  override name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface UserRecord {
  id: string;
  email: string;
  name: string;
  passwordHash: string;
  createdAt: Date;
}

export interface SessionRecord {
  id: string;
  name: string;
  ownerId: string;
  pauseOnCollapse: boolean;
  createdAt: Date;
}

export interface RunSummary {
  id: string;
  name: string;
  status: RunStatus;
  epoch: number;
  iteration: number;
  totalIterations: number | null;
  iterationsPerEpoch: number | null;
  /** Epoch of the run's latest sample grid (its bytes are fetched with getGrid), or null before the first. */
  latestGridEpoch: number | null;
}

export interface SessionSummary extends SessionRecord {
  /** The role of the user the list was made for. */
  role: Role;
  memberCount: number;
  /** The session's most recently created run, or null. */
  latestRun: RunSummary | null;
  /** The latest of: the session's creation, its latest run's last update, its latest activity entry. */
  lastActivityAt: Date;
}

export interface MemberRecord {
  userId: string;
  name: string;
  email: string;
  role: Role;
}

export interface InviteRecord {
  id: string;
  sessionId: string;
  tokenHash: string;
  role: Role;
  createdById: string;
  createdAt: Date;
  revokedAt: Date | null;
}

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

export interface MetricInput {
  iteration: number;
  epoch: number;
  gReal: number;
  fake: number;
  real: number;
  msPerIter: number;
}
export type MetricRecord = MetricInput;

export interface GridInput {
  epoch: number;
  iteration: number;
  png: Uint8Array;
  rows: number;
  cols: number;
}
/** An epoch's diagnostics as stored: the metrics by name and the collapse alarms raised at that epoch. */
export interface DiagnosticsInput {
  epoch: number;
  iteration: number;
  metrics: Record<string, number>;
  alarms: { rule: string; epoch: number; message: string; evidence?: unknown }[];
}

export interface GridInfo {
  epoch: number;
  iteration: number;
  /** SHA-256 (hex) of the PNG bytes. */
  sha256: string;
  rows: number;
  cols: number;
}
export interface GridRecord extends GridInfo {
  png: Uint8Array;
}

export interface CheckpointInput {
  kind: string;
  epoch: number;
  iteration: number;
  dir: string;
  bytes: number;
}
export interface CheckpointRecord extends CheckpointInput {
  id: string;
  runId: string;
  createdAt: Date;
}

export interface ActivityInput {
  sessionId: string;
  runId?: string | null;
  userId?: string | null;
  kind: string;
  detail: Record<string, unknown>;
  iteration?: number | null;
}
export interface ActivityRecord {
  id: string;
  sessionId: string;
  runId: string | null;
  userId: string | null;
  /** The acting user's name, or null (no user, or the user was deleted). */
  userName: string | null;
  kind: string;
  detail: Record<string, unknown>;
  iteration: number | null;
  createdAt: Date;
}

/** Rows per INSERT statement in appendMetrics (7 parameters each; SQLite here allows 32766). */
const METRIC_CHUNK = 500;

const ROLE_RANK: Record<Role, number> = { viewer: 0, editor: 1, owner: 2 };

function asRole(value: string): Role {
  if ((ROLES as readonly string[]).includes(value)) return value as Role;
  throw new Error(`unknown role in the database: ${JSON.stringify(value)}`);
}

function asStatus(value: string): RunStatus {
  if ((RUN_STATUSES as readonly string[]).includes(value)) return value as RunStatus;
  throw new Error(`unknown run status in the database: ${JSON.stringify(value)}`);
}

function parseDetail(json: string): Record<string, unknown> {
  const value: unknown = JSON.parse(json);
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
}

function toJson(value: unknown, what: string): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`${what} is not JSON-serialisable`);
  return json;
}

function prismaCode(e: unknown): string | undefined {
  return e instanceof Prisma.PrismaClientKnownRequestError ? e.code : undefined;
}

/** Turns Prisma's unique (P2002), foreign key (P2003) and missing-row (P2025) errors into StoreErrors. */
function storeError(e: unknown, messages: { conflict?: string; notFound?: string }): unknown {
  const code = prismaCode(e);
  if (code === "P2002" && messages.conflict) return new StoreError("CONFLICT", messages.conflict, { cause: e });
  if ((code === "P2003" || code === "P2025") && messages.notFound) return new StoreError("NOT_FOUND", messages.notFound, { cause: e });
  return e;
}

function checkMetric(p: MetricInput, index: number): void {
  const where = `metric point ${index} (iteration ${String(p.iteration)})`;
  if (!Number.isSafeInteger(p.iteration) || p.iteration < 0) throw new RangeError(`${where}: iteration must be a non-negative integer`);
  if (!Number.isSafeInteger(p.epoch) || p.epoch < 0) throw new RangeError(`${where}: epoch must be a non-negative integer`);
  for (const key of ["gReal", "fake", "real", "msPerIter"] as const) {
    if (typeof p[key] !== "number" || !Number.isFinite(p[key])) {
      throw new RangeError(`${where}: ${key} must be a finite number (got ${String(p[key])})`);
    }
  }
}

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

const activityInclude = { user: { select: { name: true } } } as const;
type ActivityRow = Prisma.ActivityEntryGetPayload<{ include: typeof activityInclude }>;

function toActivity(row: ActivityRow): ActivityRecord {
  return {
    id: row.id,
    sessionId: row.sessionId,
    runId: row.runId,
    userId: row.userId,
    userName: row.user?.name ?? null,
    kind: row.kind,
    detail: parseDetail(row.detail),
    iteration: row.iteration,
    createdAt: row.createdAt,
  };
}

function toInvite(row: Invite): InviteRecord {
  return { ...row, role: asRole(row.role) };
}

function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface SessionDatasetRecord {
  sessionId: string;
  datasetId: string;
  name: string;
  importedById: string;
  importedByName: string;
  createdAt: Date;
  /** Runs in this session whose Config names this data set. */
  runCount: number;
}

export class Store {
  /**
   * Last timestamp handed out. Every time this store writes (createdAt, Run.updatedAt) is strictly later than the one
   * before, even within a millisecond, so "latest", "most recently active" and "chronological" are exact.
   */
  private lastMs = 0;

  constructor(readonly prisma: PrismaClient) {}

  private now(): Date {
    const t = Math.max(Date.now(), this.lastMs + 1);
    this.lastMs = t;
    return new Date(t);
  }

  // ---- users ----

  async createUser(input: { email: string; name: string; passwordHash: string }): Promise<UserRecord> {
    const email = normaliseEmail(input.email);
    try {
      return await this.prisma.user.create({
        data: { id: randomUUID(), email, name: input.name, passwordHash: input.passwordHash, createdAt: this.now() },
      });
    } catch (e) {
      throw storeError(e, { conflict: `a user with the email ${email} already exists` });
    }
  }

  async findUserByEmail(email: string): Promise<UserRecord | null> {
    return this.prisma.user.findUnique({ where: { email: normaliseEmail(email) } });
  }

  async getUser(id: string): Promise<UserRecord | null> {
    return this.prisma.user.findUnique({ where: { id } });
  }

  // ---- sessions and members ----

  /** Creates the session and its owner's membership (role "owner") in one transaction. */
  async createSession(input: { name: string; ownerId: string }): Promise<SessionRecord> {
    const id = randomUUID();
    const createdAt = this.now();
    try {
      const [session] = await this.prisma.$transaction([
        this.prisma.trainingSession.create({ data: { id, name: input.name, ownerId: input.ownerId, createdAt } }),
        this.prisma.membership.create({ data: { userId: input.ownerId, sessionId: id, role: "owner", createdAt } }),
      ]);
      return session;
    } catch (e) {
      throw storeError(e, { notFound: `no user ${input.ownerId} to own the session` });
    }
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    return this.prisma.trainingSession.findUnique({ where: { id } });
  }

  /** Deletes the session with its members, invites, runs (their metrics, grids, checkpoints) and activity. */
  async deleteSession(id: string): Promise<void> {
    try {
      await this.prisma.trainingSession.delete({ where: { id } });
    } catch (e) {
      throw storeError(e, { notFound: `no session ${id}` });
    }
  }

  /** Every session the user belongs to, with the user's role, most recently active first. */
  async listSessionsForUser(userId: string): Promise<SessionSummary[]> {
    const memberships = await this.prisma.membership.findMany({
      where: { userId },
      select: {
        role: true,
        session: {
          include: {
            _count: { select: { memberships: true } },
            runs: {
              orderBy: { createdAt: "desc" },
              take: 1,
              select: {
                id: true,
                name: true,
                status: true,
                epoch: true,
                iteration: true,
                totalIterations: true,
                iterationsPerEpoch: true,
                updatedAt: true,
                grids: { orderBy: { epoch: "desc" }, take: 1, select: { epoch: true } },
              },
            },
            activity: { orderBy: { createdAt: "desc" }, take: 1, select: { createdAt: true } },
          },
        },
      },
    });
    const summaries = memberships.map(({ role, session }): SessionSummary => {
      const { _count, runs, activity, ...record } = session;
      const run = runs[0];
      const times = [record.createdAt.getTime()];
      if (run) times.push(run.updatedAt.getTime());
      if (activity[0]) times.push(activity[0].createdAt.getTime());
      return {
        ...record,
        role: asRole(role),
        memberCount: _count.memberships,
        latestRun: run
          ? {
              id: run.id,
              name: run.name,
              status: asStatus(run.status),
              epoch: run.epoch,
              iteration: run.iteration,
              totalIterations: run.totalIterations,
              iterationsPerEpoch: run.iterationsPerEpoch,
              latestGridEpoch: run.grids[0]?.epoch ?? null,
            }
          : null,
        lastActivityAt: new Date(Math.max(...times)),
      };
    });
    return summaries.sort((a, b) => b.lastActivityAt.getTime() - a.lastActivityAt.getTime() || (a.id < b.id ? -1 : 1));
  }

  async getMembership(userId: string, sessionId: string): Promise<{ role: Role } | null> {
    const m = await this.prisma.membership.findUnique({
      where: { userId_sessionId: { userId, sessionId } },
      select: { role: true },
    });
    return m ? { role: asRole(m.role) } : null;
  }

  /**
   * Makes the user a member with the role, or, when already a member, keeps the higher of the two roles (an owner is
   * never downgraded). Returns the role the user now has.
   */
  async addMember(sessionId: string, userId: string, role: Role): Promise<{ role: Role }> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const existing = await tx.membership.findUnique({
          where: { userId_sessionId: { userId, sessionId } },
          select: { role: true },
        });
        if (!existing) {
          await tx.membership.create({ data: { userId, sessionId, role, createdAt: this.now() } });
          return { role };
        }
        const current = asRole(existing.role);
        if (ROLE_RANK[role] <= ROLE_RANK[current]) return { role: current };
        await tx.membership.update({ where: { userId_sessionId: { userId, sessionId } }, data: { role } });
        return { role };
      });
    } catch (e) {
      throw storeError(e, { notFound: `no session ${sessionId} or no user ${userId}` });
    }
  }

  /**
   * Sets a member's role (editor or viewer; up or down). The owner's role cannot change (CONFLICT); NOT_FOUND when
   * the user is not a member. Returns the role before.
   */
  async setMemberRole(sessionId: string, userId: string, role: "editor" | "viewer"): Promise<{ from: Role }> {
    return this.prisma.$transaction(async (tx) => {
      const m = await tx.membership.findUnique({ where: { userId_sessionId: { userId, sessionId } }, select: { role: true } });
      if (!m) throw new StoreError("NOT_FOUND", `user ${userId} is not a member of session ${sessionId}`);
      if (m.role === "owner") throw new StoreError("CONFLICT", "the owner's role cannot change");
      await tx.membership.update({ where: { userId_sessionId: { userId, sessionId } }, data: { role } });
      return { from: asRole(m.role) };
    });
  }

  /** Removes a member (not the owner: CONFLICT; NOT_FOUND when not a member). Returns the role they had. */
  async removeMember(sessionId: string, userId: string): Promise<{ role: Role }> {
    return this.prisma.$transaction(async (tx) => {
      const m = await tx.membership.findUnique({ where: { userId_sessionId: { userId, sessionId } }, select: { role: true } });
      if (!m) throw new StoreError("NOT_FOUND", `user ${userId} is not a member of session ${sessionId}`);
      if (m.role === "owner") throw new StoreError("CONFLICT", "the owner cannot be removed from their session");
      await tx.membership.delete({ where: { userId_sessionId: { userId, sessionId } } });
      return { role: asRole(m.role) };
    });
  }

  /** The session's members in the order they joined (the owner first). */
  async listMembers(sessionId: string): Promise<MemberRecord[]> {
    const rows = await this.prisma.membership.findMany({
      where: { sessionId },
      orderBy: { createdAt: "asc" },
      select: { userId: true, role: true, user: { select: { name: true, email: true } } },
    });
    return rows.map((r) => ({ userId: r.userId, name: r.user.name, email: r.user.email, role: asRole(r.role) }));
  }

  // ---- invites ----

  async createInvite(input: { sessionId: string; role: Role; createdById: string; tokenHash: string }): Promise<InviteRecord> {
    try {
      const row = await this.prisma.invite.create({
        data: {
          id: randomUUID(),
          sessionId: input.sessionId,
          role: input.role,
          createdById: input.createdById,
          tokenHash: input.tokenHash,
          createdAt: this.now(),
        },
      });
      return toInvite(row);
    } catch (e) {
      throw storeError(e, {
        conflict: "an invite with this token already exists",
        notFound: `no session ${input.sessionId} or no user ${input.createdById}`,
      });
    }
  }

  /** The invite with this token hash, or null when there is none or it was revoked. */
  async findActiveInvite(tokenHash: string): Promise<InviteRecord | null> {
    const row = await this.prisma.invite.findUnique({ where: { tokenHash } });
    return row && row.revokedAt === null ? toInvite(row) : null;
  }

  /** Revokes the invite (kept for the record); revoking it again keeps the first revocation time. */
  async revokeInvite(id: string): Promise<InviteRecord> {
    await this.prisma.invite.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: this.now() } });
    const row = await this.prisma.invite.findUnique({ where: { id } });
    if (!row) throw new StoreError("NOT_FOUND", `no invite ${id}`);
    return toInvite(row);
  }

  /** All the session's invites, revoked ones included, oldest first. */
  async listInvites(sessionId: string): Promise<InviteRecord[]> {
    const rows = await this.prisma.invite.findMany({ where: { sessionId }, orderBy: { createdAt: "asc" } });
    return rows.map(toInvite);
  }

  // ---- data sets ----

  /**
   * Shares a stored data set in a session under a name. Sharing one the session already has keeps the first record
   * (its name, who imported it, when) and returns it with `created: false`.
   */
  async addSessionDataset(input: { sessionId: string; datasetId: string; name: string; importedById: string }): Promise<{ record: SessionDatasetRecord; created: boolean }> {
    const existing = await this.getSessionDataset(input.sessionId, input.datasetId);
    if (existing) return { record: existing, created: false };
    try {
      await this.prisma.sessionDataset.create({ data: { ...input, createdAt: this.now() } });
    } catch (e) {
      throw storeError(e, {
        conflict: `data set ${input.datasetId} is already shared in session ${input.sessionId}`,
        notFound: `no session ${input.sessionId} or no user ${input.importedById}`,
      });
    }
    return { record: (await this.getSessionDataset(input.sessionId, input.datasetId))!, created: true };
  }

  async getSessionDataset(sessionId: string, datasetId: string): Promise<SessionDatasetRecord | null> {
    const row = await this.prisma.sessionDataset.findUnique({
      where: { sessionId_datasetId: { sessionId, datasetId } },
      include: { importedBy: { select: { name: true } } },
    });
    if (!row) return null;
    const runCount = await this.prisma.run.count({ where: { sessionId, datasetRef: datasetId } });
    return toSessionDataset(row, runCount);
  }

  /** The session's data sets, newest first, each with how many of the session's runs use it. */
  async listSessionDatasets(sessionId: string): Promise<SessionDatasetRecord[]> {
    const rows = await this.prisma.sessionDataset.findMany({
      where: { sessionId },
      orderBy: { createdAt: "desc" },
      include: { importedBy: { select: { name: true } } },
    });
    const byRef = await this.runCountsByDataset(sessionId);
    return rows.map((r) => toSessionDataset(r, byRef.get(r.datasetId) ?? 0));
  }

  /** How many of the session's runs name each data set (by Config `dataset`), in one query. */
  async runCountsByDataset(sessionId: string): Promise<Map<string, number>> {
    const counts = await this.prisma.run.groupBy({ by: ["datasetRef"], where: { sessionId }, _count: { _all: true } });
    return new Map(counts.map((c) => [c.datasetRef, c._count._all]));
  }

  /**
   * Removes a data set from a session, only when none of the session's runs uses it (CONFLICT otherwise, NOT_FOUND
   * when the session does not have it). Checked and deleted in one transaction, so a run created meanwhile cannot
   * lose its data. Returns whether any session or run anywhere still refers to the stored data.
   */
  async removeSessionDataset(sessionId: string, datasetId: string): Promise<{ stillReferenced: boolean }> {
    return this.prisma.$transaction(async (tx) => {
      const row = await tx.sessionDataset.findUnique({ where: { sessionId_datasetId: { sessionId, datasetId } } });
      if (!row) throw new StoreError("NOT_FOUND", `session ${sessionId} has no data set ${datasetId}`);
      const runs = await tx.run.count({ where: { sessionId, datasetRef: datasetId } });
      if (runs > 0) {
        throw new StoreError("CONFLICT", `data set "${row.name}" is used by ${runs} run${runs === 1 ? "" : "s"} of this session; delete is only possible while no run uses it`);
      }
      await tx.sessionDataset.delete({ where: { sessionId_datasetId: { sessionId, datasetId } } });
      const others = await tx.sessionDataset.count({ where: { datasetId } });
      const anyRuns = await tx.run.count({ where: { datasetRef: datasetId } });
      return { stillReferenced: others + anyRuns > 0 };
    });
  }

  // ---- runs ----

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
    const createdAt = this.now();
    try {
      const row = await this.prisma.run.create({
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
    const row = await this.prisma.run.findUnique({ where: { id }, select: runSelect });
    return row ? toRun(row) : null;
  }

  /** The session's runs, oldest first. */
  async listRuns(sessionId: string): Promise<RunRecord[]> {
    const rows = await this.prisma.run.findMany({ where: { sessionId }, orderBy: { createdAt: "asc" }, select: runSelect });
    return rows.map(toRun);
  }

  async updateRun(id: string, patch: RunPatch): Promise<RunRecord> {
    const data: Prisma.RunUpdateInput = { updatedAt: this.now() };
    if (patch.status !== undefined) data.status = patch.status;
    if (patch.iteration !== undefined) data.iteration = patch.iteration;
    if (patch.epoch !== undefined) data.epoch = patch.epoch;
    if (patch.backend !== undefined) data.backend = patch.backend;
    if (patch.failureReason !== undefined) data.failureReason = patch.failureReason;
    if (patch.iterationsPerEpoch !== undefined) data.iterationsPerEpoch = patch.iterationsPerEpoch;
    if (patch.totalIterations !== undefined) data.totalIterations = patch.totalIterations;
    try {
      return toRun(await this.prisma.run.update({ where: { id }, data, select: runSelect }));
    } catch (e) {
      throw storeError(e, { notFound: `no run ${id}` });
    }
  }

  /**
   * At server start after a crash: every run still marked running or paused becomes "interrupted", with the reason.
   * Returns how many runs it marked.
   */
  async markInterrupted(): Promise<number> {
    const { count } = await this.prisma.run.updateMany({
      where: { status: { in: ["running", "paused"] } },
      data: { status: "interrupted", failureReason: INTERRUPTED_REASON, updatedAt: this.now() },
    });
    return count;
  }

  // ---- metrics ----

  /**
   * Appends the points in ONE transaction (all or nothing), ignoring points whose (runId, iteration) is already stored.
   * Returns how many were inserted. Throws a RangeError before writing anything when a point is not valid (non-integer
   * iteration or epoch, or a loss that is not a finite number: SQLite cannot store NaN), and NOT_FOUND for a missing run.
   */
  async appendMetrics(runId: string, points: readonly MetricInput[]): Promise<number> {
    points.forEach(checkMetric);
    if (points.length === 0) return 0;
    const statements: Prisma.PrismaPromise<number>[] = [];
    for (let i = 0; i < points.length; i += METRIC_CHUNK) {
      const rows = points
        .slice(i, i + METRIC_CHUNK)
        .map((p) => Prisma.sql`(${runId}, ${p.iteration}, ${p.epoch}, ${p.gReal}, ${p.fake}, ${p.real}, ${p.msPerIter})`);
      statements.push(
        this.prisma.$executeRaw`INSERT OR IGNORE INTO "MetricPoint" ("runId", "iteration", "epoch", "gReal", "fake", "real", "msPerIter") VALUES ${Prisma.join(rows)}`,
      );
    }
    try {
      const counts = await this.prisma.$transaction(statements);
      return counts.reduce((a, b) => a + b, 0);
    } catch (e) {
      if (prismaCode(e) === "P2003" || /FOREIGN KEY constraint failed/i.test(e instanceof Error ? e.message : "")) {
        throw new StoreError("NOT_FOUND", `no run ${runId} to append metrics to`, { cause: e });
      }
      throw e;
    }
  }

  /** The run's points in iteration order: after `afterIteration` (exclusive) when given, at most `limit` when given. */
  async metrics(runId: string, options: { afterIteration?: number; limit?: number } = {}): Promise<MetricRecord[]> {
    return this.prisma.metricPoint.findMany({
      where: { runId, ...(options.afterIteration !== undefined ? { iteration: { gt: options.afterIteration } } : {}) },
      orderBy: { iteration: "asc" },
      ...(options.limit !== undefined ? { take: options.limit } : {}),
      select: { iteration: true, epoch: true, gReal: true, fake: true, real: true, msPerIter: true },
    });
  }

  /** The highest iteration with a stored point, or null when the run has none. */
  async lastIteration(runId: string): Promise<number | null> {
    const row = await this.prisma.metricPoint.findFirst({
      where: { runId },
      orderBy: { iteration: "desc" },
      select: { iteration: true },
    });
    return row?.iteration ?? null;
  }

  // ---- sample grids ----

  /** Stores the epoch's grid with its SHA-256; saving the same (run, epoch) again replaces it. */
  async saveGrid(runId: string, grid: GridInput): Promise<GridInfo> {
    const png = new Uint8Array(grid.png);
    const sha256 = createHash("sha256").update(png).digest("hex");
    const fields = { iteration: grid.iteration, png, sha256, rows: grid.rows, cols: grid.cols, createdAt: this.now() };
    try {
      await this.prisma.sampleGrid.upsert({
        where: { runId_epoch: { runId, epoch: grid.epoch } },
        create: { runId, epoch: grid.epoch, ...fields },
        update: fields,
        select: { epoch: true },
      });
    } catch (e) {
      throw storeError(e, { notFound: `no run ${runId} to save a grid for` });
    }
    return { epoch: grid.epoch, iteration: grid.iteration, sha256, rows: grid.rows, cols: grid.cols };
  }

  /** Saves an epoch's diagnostics (metrics and the alarms raised then); the same epoch again replaces it. */
  async saveDiagnostics(runId: string, d: DiagnosticsInput): Promise<void> {
    const fields = { iteration: d.iteration, metricsJson: JSON.stringify(d.metrics), alarmsJson: JSON.stringify(d.alarms), createdAt: this.now() };
    try {
      await this.prisma.diagnosticsPoint.upsert({
        where: { runId_epoch: { runId, epoch: d.epoch } },
        create: { runId, epoch: d.epoch, ...fields },
        update: fields,
        select: { epoch: true },
      });
    } catch (e) {
      throw storeError(e, { notFound: `no run ${runId} to save diagnostics for` });
    }
  }

  /** The run's diagnostics in epoch order. */
  async listDiagnostics(runId: string): Promise<DiagnosticsInput[]> {
    const rows = await this.prisma.diagnosticsPoint.findMany({ where: { runId }, orderBy: { epoch: "asc" } });
    return rows.map((r) => ({ epoch: r.epoch, iteration: r.iteration, metrics: JSON.parse(r.metricsJson) as Record<string, number>, alarms: JSON.parse(r.alarmsJson) as DiagnosticsInput["alarms"] }));
  }

  /** Whether a collapse alarm pauses the session's runs. */
  async setPauseOnCollapse(sessionId: string, value: boolean): Promise<void> {
    await this.prisma.trainingSession.update({ where: { id: sessionId }, data: { pauseOnCollapse: value } });
  }

  /** The run's grids in epoch order, without their bytes. */
  async listGrids(runId: string): Promise<GridInfo[]> {
    return this.prisma.sampleGrid.findMany({
      where: { runId },
      orderBy: { epoch: "asc" },
      select: { epoch: true, iteration: true, sha256: true, rows: true, cols: true },
    });
  }

  async getGrid(runId: string, epoch: number): Promise<GridRecord | null> {
    const row = await this.prisma.sampleGrid.findUnique({
      where: { runId_epoch: { runId, epoch } },
      select: { epoch: true, iteration: true, sha256: true, rows: true, cols: true, png: true },
    });
    return row ? { ...row, png: new Uint8Array(row.png) } : null;
  }

  // ---- checkpoints ----

  async saveCheckpoint(runId: string, checkpoint: CheckpointInput): Promise<CheckpointRecord> {
    try {
      return await this.prisma.checkpoint.create({
        data: {
          id: randomUUID(),
          runId,
          kind: checkpoint.kind,
          epoch: checkpoint.epoch,
          iteration: checkpoint.iteration,
          dir: checkpoint.dir,
          bytes: checkpoint.bytes,
          createdAt: this.now(),
        },
      });
    } catch (e) {
      throw storeError(e, { notFound: `no run ${runId} to save a checkpoint for` });
    }
  }

  /** The run's checkpoint of this kind with the highest iteration (the newest among equals), or null. */
  async latestCheckpoint(runId: string, kind = "latest"): Promise<CheckpointRecord | null> {
    return this.prisma.checkpoint.findFirst({
      where: { runId, kind },
      orderBy: [{ iteration: "desc" }, { createdAt: "desc" }],
    });
  }

  /** The run's checkpoints, all kinds, in iteration order. */
  async listCheckpoints(runId: string): Promise<CheckpointRecord[]> {
    return this.prisma.checkpoint.findMany({ where: { runId }, orderBy: [{ iteration: "asc" }, { createdAt: "asc" }] });
  }

  // ---- activity ----

  async addActivity(input: ActivityInput): Promise<ActivityRecord> {
    const detail = toJson(input.detail, "the activity's detail");
    try {
      const row = await this.prisma.activityEntry.create({
        data: {
          id: randomUUID(),
          sessionId: input.sessionId,
          runId: input.runId ?? null,
          userId: input.userId ?? null,
          kind: input.kind,
          detail,
          iteration: input.iteration ?? null,
          createdAt: this.now(),
        },
        include: activityInclude,
      });
      return toActivity(row);
    } catch (e) {
      throw storeError(e, { notFound: `no session ${input.sessionId}, run or user for this activity entry` });
    }
  }

  /** The session's latest `limit` entries (only the run's when runId is given), in chronological order (newest last). */
  async listActivity(sessionId: string, options: { runId?: string; limit?: number } = {}): Promise<ActivityRecord[]> {
    const rows = await this.prisma.activityEntry.findMany({
      where: { sessionId, ...(options.runId !== undefined ? { runId: options.runId } : {}) },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: options.limit ?? 200,
      include: activityInclude,
    });
    return rows.reverse().map(toActivity);
  }
}

function toSessionDataset(
  row: { sessionId: string; datasetId: string; name: string; importedById: string; createdAt: Date; importedBy: { name: string } },
  runCount: number,
): SessionDatasetRecord {
  return {
    sessionId: row.sessionId,
    datasetId: row.datasetId,
    name: row.name,
    importedById: row.importedById,
    importedByName: row.importedBy.name,
    createdAt: row.createdAt,
    runCount,
  };
}
