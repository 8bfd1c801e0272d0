/**
 * Presence across the processes of a cluster: one Redis hash per session, `gan:presence:<sessionId>`, one field per
 * connection (`<node id>|<connection id>` → the user, JSON). A user counts once however many tabs and processes they
 * are connected through. A process that dies leaves its fields behind: `prune` (run with the lease sweep) drops the
 * fields of processes whose `gan:node:<id>` key has expired. Each process also keeps its own connections in memory,
 * so that after a Redis restart (which keeps nothing) `restore` puts them back.
 */
import type { Redis } from "ioredis";
import type { PresenceUser } from "../../lib/protocol/socket";
import type { PresenceBook } from "../realtime/presence";

const key = (sessionId: string) => `gan:presence:${sessionId}`;

export class ClusterPresence implements PresenceBook {
  /** This process's connections: field → (session, user). */
  private readonly local = new Map<string, { sessionId: string; user: PresenceUser }>();

  constructor(
    private readonly redis: Redis,
    private readonly nodeId: string,
  ) {}

  private field(connectionId: string): string {
    return `${this.nodeId}|${connectionId}`;
  }

  private async all(sessionId: string): Promise<Map<string, PresenceUser>> {
    const fields = await this.redis.hgetall(key(sessionId));
    const out = new Map<string, PresenceUser>();
    for (const [f, json] of Object.entries(fields)) {
      try {
        out.set(f, JSON.parse(json) as PresenceUser);
      } catch {
        /* a field not ours to read: ignored */
      }
    }
    return out;
  }

  async join(sessionId: string, connectionId: string, user: PresenceUser): Promise<void> {
    this.local.set(this.field(connectionId), { sessionId, user });
    await this.redis.hset(key(sessionId), this.field(connectionId), JSON.stringify(user));
  }

  async leave(sessionId: string, connectionId: string, userId: string): Promise<boolean> {
    this.local.delete(this.field(connectionId));
    const removed = await this.redis.hdel(key(sessionId), this.field(connectionId));
    if (removed === 0) return false;
    return ![...(await this.all(sessionId)).values()].some((u) => u.userId === userId);
  }

  async setRole(sessionId: string, userId: string, role: string): Promise<void> {
    for (const entry of this.local.values()) if (entry.sessionId === sessionId && entry.user.userId === userId) entry.user = { ...entry.user, role };
    for (const [f, u] of await this.all(sessionId)) {
      if (u.userId === userId) await this.redis.hset(key(sessionId), f, JSON.stringify({ ...u, role }));
    }
  }

  async users(sessionId: string): Promise<PresenceUser[]> {
    const byUser = new Map<string, PresenceUser>();
    for (const u of (await this.all(sessionId)).values()) byUser.set(u.userId, u);
    return [...byUser.values()];
  }

  /** Drops the connections of processes that are gone (no `gan:node:<id>`); returns the sessions that changed. */
  async prune(): Promise<string[]> {
    const changed: string[] = [];
    let cursor = "0";
    const alive = new Map<string, boolean>();
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", "gan:presence:*", "COUNT", 200);
      cursor = next;
      for (const k of keys) {
        const fields = await this.redis.hkeys(k);
        const stale: string[] = [];
        for (const f of fields) {
          const node = f.slice(0, f.lastIndexOf("|"));
          if (!alive.has(node)) alive.set(node, (await this.redis.exists(`gan:node:${node}`)) === 1);
          if (!alive.get(node)) stale.push(f);
        }
        if (stale.length > 0) {
          await this.redis.hdel(k, ...stale);
          changed.push(k.slice("gan:presence:".length));
        }
      }
    } while (cursor !== "0");
    return changed;
  }

  /** Puts this process's connections back (after a Redis restart); returns their sessions. */
  async restore(): Promise<string[]> {
    const sessions = new Set<string>();
    for (const [f, { sessionId, user }] of this.local) {
      await this.redis.hset(key(sessionId), f, JSON.stringify(user));
      sessions.add(sessionId);
    }
    return [...sessions];
  }

  /** At start with a fixed GAN_NODE_ID: what an earlier life of this process left behind. */
  async forgetOwn(): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", "gan:presence:*", "COUNT", 200);
      cursor = next;
      for (const k of keys) {
        const own = (await this.redis.hkeys(k)).filter((f) => f.startsWith(`${this.nodeId}|`));
        if (own.length > 0) await this.redis.hdel(k, ...own);
      }
    } while (cursor !== "0");
  }
}
