// The activity log: one entry per thing that happened in a session (its detail stored as JSON), with the acting
// user's name.
import { randomUUID } from "node:crypto";
import type { Prisma } from "./generated/client";
import { type StoreDb, storeError, toJson } from "./shared";

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

const activityInclude = { user: { select: { name: true } } } as const;
type ActivityRow = Prisma.ActivityEntryGetPayload<{ include: typeof activityInclude }>;

function parseDetail(json: string): Record<string, unknown> {
  const value: unknown = JSON.parse(json);
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
}

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

export class ActivityStore {
  constructor(private readonly db: StoreDb) {}

  async addActivity(input: ActivityInput): Promise<ActivityRecord> {
    const detail = toJson(input.detail, "the activity's detail");
    try {
      const row = await this.db.prisma.activityEntry.create({
        data: {
          id: randomUUID(),
          sessionId: input.sessionId,
          runId: input.runId ?? null,
          userId: input.userId ?? null,
          kind: input.kind,
          detail,
          iteration: input.iteration ?? null,
          createdAt: this.db.now(),
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
    const rows = await this.db.prisma.activityEntry.findMany({
      where: { sessionId, ...(options.runId !== undefined ? { runId: options.runId } : {}) },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: options.limit ?? 200,
      include: activityInclude,
    });
    return rows.reverse().map(toActivity);
  }
}
