// The activity log: one entry per thing that happened in a session, its detail stored as JSON and parsed back with
// lib/protocol/activity.ts's schema (a row that does not parse is kept as an "unknown" entry, logged once), with
// the acting user's name. Writers go through server/activity/log.ts, which also pushes each entry.
import { randomUUID } from "node:crypto";
import { type ActivityChange, type ActivityInput, type ActivityMeta, parseActivityChange, type UnknownActivity } from "../../lib/protocol/activity";
import type { Prisma } from "./generated/client";
import { type StoreDb, storeError, toJson } from "./shared";

export type { ActivityInput } from "../../lib/protocol/activity";
/** A stored entry: a change the schema knows, or a row kept as unknown; `createdAt` a Date. */
export type ActivityRecord = Omit<ActivityMeta, "createdAt"> & { createdAt: Date } & (ActivityChange | UnknownActivity);

const activityInclude = { user: { select: { name: true } } } as const;
type ActivityRow = Prisma.ActivityEntryGetPayload<{ include: typeof activityInclude }>;

/** Rows already reported as not parsing (each is logged once per process, however often it is read). */
const reported = new Set<string>();

function changeOf(row: ActivityRow): ActivityChange | UnknownActivity {
  let detail: unknown;
  try {
    detail = JSON.parse(row.detail);
  } catch {
    detail = row.detail;
  }
  const parsed = parseActivityChange(row.kind, detail);
  if (parsed.ok) return parsed.change;
  if (!reported.has(row.id) && reported.size < 10_000) {
    reported.add(row.id);
    console.warn(`activity entry ${row.id} (${row.kind}) does not fit its schema, shown as unknown: ${parsed.problem}`);
  }
  return { kind: "unknown", detail: { kind: row.kind, json: row.detail } };
}

function toActivity(row: ActivityRow): ActivityRecord {
  return {
    id: row.id,
    sessionId: row.sessionId,
    runId: row.runId,
    userId: row.userId,
    userName: row.user?.name ?? null,
    iteration: row.iteration,
    createdAt: row.createdAt,
    ...changeOf(row),
  };
}

export class ActivityStore {
  constructor(private readonly db: StoreDb) {}

  /** Stores an entry as given (server/activity/log.ts checks it against the schema and pushes it). */
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

  /** Every entry of one run of these kinds, oldest first (the run's controls, to rebuild its parameter state). */
  async listRunActivity(runId: string, kinds: readonly string[]): Promise<ActivityRecord[]> {
    const rows = await this.db.prisma.activityEntry.findMany({
      where: { runId, kind: { in: [...kinds] } },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      include: activityInclude,
    });
    return rows.map(toActivity);
  }
}
