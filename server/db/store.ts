// The only place the server's code talks to the database. Every method is typed; JSON columns (Run.configJson,
// ActivityEntry.detail) are stored as strings and parsed back; ids are random UUIDs. Errors the caller can act on are
// StoreErrors (CONFLICT: a unique value taken; NOT_FOUND: a row or a row it points to does not exist).
import { createHash, randomUUID } from "node:crypto";
import { Prisma } from "./generated/client";
import type { Invite, PrismaClient } from "./generated/client";

export type Role = "owner" | "editor" | "viewer";
/** "queued": waiting for a trainer slot (server/runs/trainer-slots.ts); it starts by itself when one frees. */
export type RunStatus = "idle" | "queued" | "running" | "paused" | "stopped" | "completed" | "failed" | "interrupted";

export const ROLES: readonly Role[] = ["viewer", "editor", "owner"];
export const RUN_STATUSES: readonly RunStatus[] = ["idle", "queued", "running", "paused", "stopped", "completed", "failed", "interrupted"];
export const INTERRUPTED_REASON = "the server stopped while the run was training";
export const QUEUED_INTERRUPTED_REASON = "the server stopped while the run waited in the trainer queue";

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
  /** Sealed into the session cookie; a cookie with an older version no longer signs anyone in. */
  sessionVersion: number;
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
  /** Refused from this time on; null only for links made before invites expired. */
  expiresAt: Date | null;
  /** Members it may add or raise; null: no limit. */
  maxUses: number | null;
  uses: number;
}

/** Why an invite link does not let this user in. */
export type InviteRefusal = "unknown" | "revoked" | "expired" | "usedUp" | "removed";

export interface InviteDetails extends InviteRecord {
  sessionName: string;
  createdByName: string;
}

/**
 * Where a user stands with an invite link: refused (and why), or the role they would have after accepting it
 * (`joinsAs`, never above the owner's last decision about them) and the one they have now (`memberRole`).
 */
export type InviteStanding =
  | { ok: false; reason: "unknown" }
  | { ok: false; reason: Exclude<InviteRefusal, "unknown">; invite: InviteDetails }
  | { ok: true; invite: InviteDetails; memberRole: Role | null; joinsAs: Role; ceiling: "viewer" | null };

/** The result of accepting: refused, or the member's role now (`changed`: the link added them or raised them). */
export type InviteAcceptance = { ok: false; reason: InviteRefusal } | { ok: true; sessionId: string; role: Role; from: Role | null; changed: boolean };

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

/** GReal, Fake and Real together (a bucket's sums, minima or maxima). */
export interface LossTriple {
  gReal: number;
  fake: number;
  real: number;
}

/**
 * The points of one overview bucket (iterations [index·width, (index+1)·width)) as SQL aggregated them: sums (not
 * means, so two partial aggregates of the same bucket add up exactly), minima and maxima, the first and last
 * iteration present and the first point's epoch.
 */
export interface MetricBucket {
  index: number;
  first: number;
  last: number;
  epoch: number;
  count: number;
  sum: LossTriple;
  min: LossTriple;
  max: LossTriple;
}

/** A bucket for the chart: means instead of sums. */
export interface MetricOverviewPoint {
  iteration: number;
  last: number;
  epoch: number;
  count: number;
  gReal: number;
  fake: number;
  real: number;
  min: LossTriple;
  max: LossTriple;
}

/**
 * The bucket width of a run's overview when its points reach `lastIteration`: the smallest power of two that fits
 * iterations 0…lastIteration into at most `maxPoints` buckets (so between maxPoints/2 and maxPoints of them once
 * the run is long). A power of two, so when the run doubles, two buckets merge into one exactly.
 */
export function overviewWidth(lastIteration: number, maxPoints: number): number {
  const need = Math.ceil((lastIteration + 1) / Math.max(1, maxPoints));
  let width = 1;
  while (width < need) width *= 2;
  return width;
}

/** Means for the chart from a bucket's sums. */
export function overviewPoint(b: MetricBucket): MetricOverviewPoint {
  return {
    iteration: b.first,
    last: b.last,
    epoch: b.epoch,
    count: b.count,
    gReal: b.sum.gReal / b.count,
    fake: b.sum.fake / b.count,
    real: b.sum.real / b.count,
    min: b.min,
    max: b.max,
  };
}

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

/**
 * The invite rules, in one place: a revoked or expired link is refused; for a removed member ("none") a link made
 * before the removal does nothing (refused, or, once they are back through a newer link, no change); a demoted one
 * ("viewer") is viewer at most; a member the link would not raise changes nothing (and uses nothing); otherwise a
 * link with no uses left is refused.
 */
function judgeInvite(
  invite: InviteRecord,
  ceiling: { role: "viewer" | "none"; createdAt: Date } | null,
  memberRole: Role | null,
  now: Date,
): { ok: false; reason: Exclude<InviteRefusal, "unknown"> } | { ok: true; joinsAs: Role; changes: boolean } {
  if (invite.revokedAt !== null) return { ok: false, reason: "revoked" };
  if (invite.expiresAt !== null && invite.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: "expired" };
  if (ceiling?.role === "none" && invite.createdAt.getTime() <= ceiling.createdAt.getTime()) {
    return memberRole === null ? { ok: false, reason: "removed" } : { ok: true, joinsAs: memberRole, changes: false };
  }
  let joinsAs: Role = ceiling?.role === "viewer" ? "viewer" : invite.role;
  if (memberRole !== null && ROLE_RANK[memberRole] >= ROLE_RANK[joinsAs]) joinsAs = memberRole;
  const changes = joinsAs !== memberRole;
  if (changes && invite.maxUses !== null && invite.uses >= invite.maxUses) return { ok: false, reason: "usedUp" };
  return { ok: true, joinsAs, changes };
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

  /** The user's sessionVersion (checked on every cookie read), or null when there is no such user. */
  async sessionVersion(id: string): Promise<number | null> {
    const row = await this.prisma.user.findUnique({ where: { id }, select: { sessionVersion: true } });
    return row?.sessionVersion ?? null;
  }

  /** Ends every cookie of the user (sign-out): adds one to their sessionVersion and returns the new one. */
  async bumpSessionVersion(id: string): Promise<number> {
    try {
      const row = await this.prisma.user.update({ where: { id }, data: { sessionVersion: { increment: 1 } }, select: { sessionVersion: true } });
      return row.sessionVersion;
    } catch (e) {
      throw storeError(e, { notFound: `no user ${id}` });
    }
  }

  /** A new password hash; ends every cookie of the user in the same write. Returns the new sessionVersion. */
  async setPassword(id: string, passwordHash: string): Promise<number> {
    try {
      const row = await this.prisma.user.update({ where: { id }, data: { passwordHash, sessionVersion: { increment: 1 } }, select: { sessionVersion: true } });
      return row.sessionVersion;
    } catch (e) {
      throw storeError(e, { notFound: `no user ${id}` });
    }
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
   * the user is not a member. Returns the role before. Also records the decision as the member's ceiling: "viewer"
   * keeps every later invite from raising them; "editor" lifts the ceiling. `setById`: who decided (default: the
   * session's owner).
   */
  async setMemberRole(sessionId: string, userId: string, role: "editor" | "viewer", setById?: string): Promise<{ from: Role }> {
    return this.prisma.$transaction(async (tx) => {
      const m = await tx.membership.findUnique({ where: { userId_sessionId: { userId, sessionId } }, select: { role: true } });
      if (!m) throw new StoreError("NOT_FOUND", `user ${userId} is not a member of session ${sessionId}`);
      if (m.role === "owner") throw new StoreError("CONFLICT", "the owner's role cannot change");
      await tx.membership.update({ where: { userId_sessionId: { userId, sessionId } }, data: { role } });
      await this.writeCeiling(tx, sessionId, userId, role === "viewer" ? "viewer" : null, setById);
      return { from: asRole(m.role) };
    });
  }

  /**
   * Removes a member (not the owner: CONFLICT; NOT_FOUND when not a member). Returns the role they had. Records the
   * ceiling "none": invite links made before this moment no longer let them in.
   */
  async removeMember(sessionId: string, userId: string, setById?: string): Promise<{ role: Role }> {
    return this.prisma.$transaction(async (tx) => {
      const m = await tx.membership.findUnique({ where: { userId_sessionId: { userId, sessionId } }, select: { role: true } });
      if (!m) throw new StoreError("NOT_FOUND", `user ${userId} is not a member of session ${sessionId}`);
      if (m.role === "owner") throw new StoreError("CONFLICT", "the owner cannot be removed from their session");
      await tx.membership.delete({ where: { userId_sessionId: { userId, sessionId } } });
      await this.writeCeiling(tx, sessionId, userId, "none", setById);
      return { role: asRole(m.role) };
    });
  }

  /** The owner's last decision about a demoted ("viewer") or removed ("none") member, or null. */
  async getCeiling(sessionId: string, userId: string): Promise<{ role: "viewer" | "none"; setById: string; createdAt: Date } | null> {
    const row = await this.prisma.memberCeiling.findUnique({ where: { sessionId_userId: { sessionId, userId } } });
    return row ? { role: row.role === "viewer" ? "viewer" : "none", setById: row.setById, createdAt: row.createdAt } : null;
  }

  private async writeCeiling(tx: Prisma.TransactionClient, sessionId: string, userId: string, role: "viewer" | "none" | null, setById?: string): Promise<void> {
    const where = { sessionId_userId: { sessionId, userId } };
    if (role === null) {
      await tx.memberCeiling.deleteMany({ where: { sessionId, userId } });
      return;
    }
    const by = setById ?? (await tx.trainingSession.findUnique({ where: { id: sessionId }, select: { ownerId: true } }))?.ownerId;
    if (!by) throw new StoreError("NOT_FOUND", `no session ${sessionId}`);
    const createdAt = this.now();
    await tx.memberCeiling.upsert({ where, create: { sessionId, userId, role, setById: by, createdAt }, update: { role, setById: by, createdAt } });
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

  async createInvite(input: {
    sessionId: string;
    role: Role;
    createdById: string;
    tokenHash: string;
    expiresAt?: Date | null;
    maxUses?: number | null;
  }): Promise<InviteRecord> {
    try {
      const row = await this.prisma.invite.create({
        data: {
          id: randomUUID(),
          sessionId: input.sessionId,
          role: input.role,
          createdById: input.createdById,
          tokenHash: input.tokenHash,
          createdAt: this.now(),
          expiresAt: input.expiresAt ?? null,
          maxUses: input.maxUses ?? null,
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

  /**
   * What an invite link would do for this user, without changing anything (the invite page shows it before the
   * user chooses to join). The same rules as {@link acceptInvite}.
   */
  async inviteStanding(tokenHash: string, userId: string, now: Date = new Date()): Promise<InviteStanding> {
    const row = await this.prisma.invite.findUnique({
      where: { tokenHash },
      include: { session: { select: { name: true } }, createdBy: { select: { name: true } } },
    });
    if (!row) return { ok: false, reason: "unknown" };
    const { session, createdBy, ...bare } = row;
    const invite: InviteDetails = { ...toInvite(bare), sessionName: session.name, createdByName: createdBy.name };
    const [ceiling, member] = await Promise.all([this.getCeiling(invite.sessionId, userId), this.getMembership(userId, invite.sessionId)]);
    const verdict = judgeInvite(invite, ceiling, member?.role ?? null, now);
    if (!verdict.ok) return { ok: false, reason: verdict.reason, invite };
    return { ok: true, invite, memberRole: member?.role ?? null, joinsAs: verdict.joinsAs, ceiling: ceiling?.role === "viewer" ? "viewer" : null };
  }

  /**
   * Accepts an invite link in one transaction: checks it (revoked, expired, used up), applies the owner's last
   * decision about the user (removed: only a link made after the removal lets them back in; demoted: never above
   * viewer), counts the use and makes the membership, so two accepts of a last use cannot both win. A member the link
   * would not raise keeps their role and uses nothing.
   */
  async acceptInvite(tokenHash: string, userId: string, now: Date = new Date()): Promise<InviteAcceptance> {
    try {
      return await this.prisma.$transaction(async (tx): Promise<InviteAcceptance> => {
        const row = await tx.invite.findUnique({ where: { tokenHash } });
        if (!row) return { ok: false, reason: "unknown" };
        const invite = toInvite(row);
        const { sessionId } = invite;
        const key = { userId_sessionId: { userId, sessionId } };
        const ceilingRow = await tx.memberCeiling.findUnique({ where: { sessionId_userId: { sessionId, userId } } });
        const ceiling = ceilingRow ? { role: ceilingRow.role === "viewer" ? ("viewer" as const) : ("none" as const), createdAt: ceilingRow.createdAt } : null;
        const member = await tx.membership.findUnique({ where: key, select: { role: true } });
        const from = member ? asRole(member.role) : null;
        const verdict = judgeInvite(invite, ceiling, from, now);
        if (!verdict.ok) return { ok: false, reason: verdict.reason };
        if (!verdict.changes) return { ok: true, sessionId, role: from!, from, changed: false };
        // The use is taken by a conditional update, so the last use goes to exactly one caller.
        const taken = await tx.invite.updateMany({
          where: { id: invite.id, revokedAt: null, ...(invite.maxUses !== null ? { uses: { lt: invite.maxUses } } : {}) },
          data: { uses: { increment: 1 } },
        });
        if (taken.count === 0) return { ok: false, reason: "usedUp" };
        if (member) await tx.membership.update({ where: key, data: { role: verdict.joinsAs } });
        else await tx.membership.create({ data: { userId, sessionId, role: verdict.joinsAs, createdAt: this.now() } });
        // A "none" ceiling stays after a rejoin: links made before the removal still do nothing for them.
        return { ok: true, sessionId, role: verdict.joinsAs, from, changed: true };
      });
    } catch (e) {
      throw storeError(e, { notFound: `no user ${userId}` });
    }
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
  async addSessionDataset(input: {
    sessionId: string;
    datasetId: string;
    name: string;
    importedById: string;
  }): Promise<{ record: SessionDatasetRecord; created: boolean }> {
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
        throw new StoreError(
          "CONFLICT",
          `data set "${row.name}" is used by ${runs} run${runs === 1 ? "" : "s"} of this session; delete is only possible while no run uses it`,
        );
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

  /**
   * At server start: the trainer queue lived in memory, so a run still marked "queued" goes back to where it can be
   * started again: "interrupted" (resumable) when it has a latest checkpoint, else "idle" (a queued run is one of
   * the two: a run without a checkpoint can only be started from the beginning). Returns how many of each.
   */
  async resetQueued(): Promise<{ idle: number; interrupted: number }> {
    const queued = await this.prisma.run.findMany({
      where: { status: "queued" },
      select: { id: true, checkpoints: { where: { kind: "latest" }, take: 1, select: { id: true } } },
    });
    const resumable = queued.filter((r) => r.checkpoints.length > 0).map((r) => r.id);
    const fresh = queued.filter((r) => r.checkpoints.length === 0).map((r) => r.id);
    const updatedAt = this.now();
    const interrupted = resumable.length
      ? (
          await this.prisma.run.updateMany({
            where: { id: { in: resumable }, status: "queued" },
            data: { status: "interrupted", failureReason: QUEUED_INTERRUPTED_REASON, updatedAt },
          })
        ).count
      : 0;
    const idle = fresh.length
      ? (await this.prisma.run.updateMany({ where: { id: { in: fresh }, status: "queued" }, data: { status: "idle", failureReason: null, updatedAt } })).count
      : 0;
    return { idle, interrupted };
  }

  /** Sessions the user owns (the sessions quota). */
  async countOwnedSessions(userId: string): Promise<number> {
    return this.prisma.trainingSession.count({ where: { ownerId: userId } });
  }

  /** Runs of a session, or runs a user created in all sessions (the runs quotas), any status. */
  async countRuns(where: { sessionId: string } | { createdById: string }): Promise<number> {
    return this.prisma.run.count({ where: "sessionId" in where ? { sessionId: where.sessionId } : { createdById: where.createdById } });
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
        this.prisma
          .$executeRaw`INSERT OR IGNORE INTO "MetricPoint" ("runId", "iteration", "epoch", "gReal", "fake", "real", "msPerIter") VALUES ${Prisma.join(rows)}`,
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

  /**
   * The run's points in [fromIteration, toIteration] (both inclusive) aggregated in SQL into buckets of `width`
   * iterations (bucket index = iteration / width), in bucket order. One pass over the range through the primary
   * key; only the buckets come back to JS. Empty buckets are absent.
   */
  async metricBuckets(runId: string, options: { width: number; fromIteration: number; toIteration: number }): Promise<MetricBucket[]> {
    const { width, fromIteration, toIteration } = options;
    if (!Number.isSafeInteger(width) || width < 1) throw new RangeError(`bucket width must be a positive integer (got ${String(width)})`);
    const rows = await this.prisma.$queryRaw<Record<string, number | bigint>[]>`
      SELECT CAST("iteration" / ${width} AS INTEGER) AS "b", MIN("iteration") AS "first", MAX("iteration") AS "last",
             MIN("epoch") AS "epoch", COUNT(*) AS "n",
             SUM("gReal") AS "gs", MIN("gReal") AS "gmin", MAX("gReal") AS "gmax",
             SUM("fake") AS "fs", MIN("fake") AS "fmin", MAX("fake") AS "fmax",
             SUM("real") AS "rs", MIN("real") AS "rmin", MAX("real") AS "rmax"
      FROM "MetricPoint"
      WHERE "runId" = ${runId} AND "iteration" >= ${fromIteration} AND "iteration" <= ${toIteration}
      GROUP BY "b" ORDER BY "b"`;
    const n = (v: number | bigint | undefined) => Number(v ?? 0);
    return rows.map((r) => ({
      index: n(r.b),
      first: n(r.first),
      last: n(r.last),
      epoch: n(r.epoch),
      count: n(r.n),
      sum: { gReal: n(r.gs), fake: n(r.fs), real: n(r.rs) },
      min: { gReal: n(r.gmin), fake: n(r.fmin), real: n(r.rmin) },
      max: { gReal: n(r.gmax), fake: n(r.fmax), real: n(r.rmax) },
    }));
  }

  /**
   * About `maxPoints` points spread over the whole run (up to `toIteration` when given), computed in SQL: buckets of
   * {@link overviewWidth} iterations, each with the mean of every loss and its min and max (a mean alone would hide a
   * one-iteration spike; min/max keep it visible as a band; a sample per bucket would miss it). `bucket` is the
   * width (1: every point is its own bucket). One pass over the run's rows in SQLite, about 1 s per million points
   * on the 2-core machine: the service keeps an incremental cache on top of it (server/runs/overview.ts).
   */
  async metricsOverview(runId: string, maxPoints: number, options: { toIteration?: number } = {}): Promise<{ bucket: number; points: MetricOverviewPoint[] }> {
    const last = options.toIteration ?? (await this.lastIteration(runId));
    if (last === null || last < 0) return { bucket: 1, points: [] };
    const width = overviewWidth(last, maxPoints);
    const buckets = await this.metricBuckets(runId, { width, fromIteration: 0, toIteration: last });
    return { bucket: width, points: buckets.map(overviewPoint) };
  }

  /**
   * At most `limit` points with fromIteration ≤ iteration ≤ toIteration, in iteration order (a primary-key range
   * read), and where the next page starts when more remain (null when none).
   */
  async metricsRange(
    runId: string,
    options: { fromIteration: number; toIteration: number; limit: number },
  ): Promise<{ points: MetricRecord[]; nextFrom: number | null }> {
    const { fromIteration, toIteration, limit } = options;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer (got ${String(limit)})`);
    if (toIteration < fromIteration) return { points: [], nextFrom: null };
    const rows = await this.prisma.metricPoint.findMany({
      where: { runId, iteration: { gte: fromIteration, lte: toIteration } },
      orderBy: { iteration: "asc" },
      take: limit + 1,
      select: { iteration: true, epoch: true, gReal: true, fake: true, real: true, msPerIter: true },
    });
    const more = rows.length > limit;
    return { points: more ? rows.slice(0, limit) : rows, nextFrom: more ? rows[limit]!.iteration : null };
  }

  /** The run's last `limit` points, in iteration order (read backwards through the primary key). */
  async metricsTail(runId: string, limit: number): Promise<MetricRecord[]> {
    const rows = await this.prisma.metricPoint.findMany({
      where: { runId },
      orderBy: { iteration: "desc" },
      take: limit,
      select: { iteration: true, epoch: true, gReal: true, fake: true, real: true, msPerIter: true },
    });
    return rows.reverse();
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
    return rows.map((r) => ({
      epoch: r.epoch,
      iteration: r.iteration,
      metrics: JSON.parse(r.metricsJson) as Record<string, number>,
      alarms: JSON.parse(r.alarmsJson) as DiagnosticsInput["alarms"],
    }));
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
