// Training sessions: created with their owner's membership, listed per user with their latest run, deleted with
// everything in them. Members and their ceilings are members.ts; invite links are invites.ts.
import { randomUUID } from "node:crypto";
import { asRole, asStatus, type Role, type RunStatus, type StoreDb, storeError } from "./shared";

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

export class SessionStore {
  constructor(private readonly db: StoreDb) {}

  /** Creates the session and its owner's membership (role "owner") in one transaction. */
  async createSession(input: { name: string; ownerId: string }): Promise<SessionRecord> {
    const { prisma } = this.db;
    const id = randomUUID();
    const createdAt = this.db.now();
    try {
      const [session] = await prisma.$transaction([
        prisma.trainingSession.create({ data: { id, name: input.name, ownerId: input.ownerId, createdAt } }),
        prisma.membership.create({ data: { userId: input.ownerId, sessionId: id, role: "owner", createdAt } }),
      ]);
      return session;
    } catch (e) {
      throw storeError(e, { notFound: `no user ${input.ownerId} to own the session` });
    }
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    return this.db.prisma.trainingSession.findUnique({ where: { id } });
  }

  /** Deletes the session with its members, invites, runs (their metrics, grids, checkpoints) and activity. */
  async deleteSession(id: string): Promise<void> {
    try {
      await this.db.prisma.trainingSession.delete({ where: { id } });
    } catch (e) {
      throw storeError(e, { notFound: `no session ${id}` });
    }
  }

  /** Every session the user belongs to, with the user's role, most recently active first. */
  async listSessionsForUser(userId: string): Promise<SessionSummary[]> {
    const memberships = await this.db.prisma.membership.findMany({
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

  /** Sessions the user owns (the sessions quota). */
  async countOwnedSessions(userId: string): Promise<number> {
    return this.db.prisma.trainingSession.count({ where: { ownerId: userId } });
  }

  /** Whether a collapse alarm pauses the session's runs. */
  async setPauseOnCollapse(sessionId: string, value: boolean): Promise<void> {
    await this.db.prisma.trainingSession.update({ where: { id: sessionId }, data: { pauseOnCollapse: value } });
  }
}
