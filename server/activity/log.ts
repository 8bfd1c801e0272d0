/**
 * The one way activity is recorded: `record` checks the entry against its kind's schema (lib/protocol/activity.ts:
 * a writer's mistake fails loudly, it is never stored), stores it, then pushes it to the session's room, typed.
 * The run service, the sessions router (roles, removals, invites accepted, pause on collapse) and the data set
 * service all write through one ActivityLog (server/app.ts makes it).
 */
import { ActivityChangeSchema, type ActivityInput, type ActivityPush } from "../../lib/protocol/activity";
import type { ActivityRecord, Store } from "../db/store";

/** Where entries are pushed (socket.io in the server, an array in tests). */
export interface ActivityBroadcaster {
  activity(sessionId: string, entry: ActivityPush): void;
}

/** A stored entry as pushed: createdAt as ISO text; only entries the schema knows are pushed. */
export function toActivityPush(record: ActivityRecord): ActivityPush | null {
  if (record.kind === "unknown") return null;
  return { ...record, createdAt: record.createdAt.toISOString() };
}

export class ActivityLog {
  constructor(private readonly deps: { store: Pick<Store, "addActivity">; broadcaster: ActivityBroadcaster }) {}

  /** Stores the entry, then pushes it to everyone in the session; resolves with the entry as pushed. */
  async record(input: ActivityInput): Promise<ActivityPush> {
    // The detail as the schema keeps it (keys it does not name are dropped): what is stored is what a read parses.
    const change = ActivityChangeSchema.parse({ kind: input.kind, detail: input.detail });
    const saved = await this.deps.store.addActivity({ ...input, ...change });
    const push = toActivityPush(saved);
    if (!push) throw new Error(`activity entry ${saved.id} (${input.kind}) was stored but does not read back as its kind`);
    this.deps.broadcaster.activity(input.sessionId, push);
    return push;
  }
}
