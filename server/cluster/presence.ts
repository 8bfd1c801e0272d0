/**
 * Presence across the processes of a cluster, in Redis, three hashes per session:
 * - `gan:presence:conns:<sessionId>`: one field per connection (`<node id>|<connection id>` → user id);
 * - `gan:presence:count:<sessionId>`: connections per user;
 * - `gan:presence:users:<sessionId>`: the present users (user id → the user, JSON).
 * A join or a leave is one Lua call that touches one field of each (O(1), whatever the session's size) and says
 * whether the user list changed (a user's first connection, or last); reading the list reads only the users. A user
 * counts once however many tabs and processes they are connected through. A process that dies leaves its connections
 * behind: `prune` (run with the lease sweep) removes those of processes whose `gan:node:<id>` key has expired. Each
 * process also keeps its own connections in memory, so that after a Redis restart (which keeps nothing) `restore`
 * puts them back.
 */
import type { Redis } from "ioredis";
import type { PresenceUser } from "../../lib/protocol/socket";
import type { PresenceBook } from "../realtime/presence";

const CONNS = "gan:presence:conns:";
const connsKey = (sessionId: string) => `${CONNS}${sessionId}`;
const countKey = (sessionId: string) => `gan:presence:count:${sessionId}`;
const usersKey = (sessionId: string) => `gan:presence:users:${sessionId}`;
const keysOf = (sessionId: string) => [connsKey(sessionId), countKey(sessionId), usersKey(sessionId)];

/** KEYS conns, count, users; ARGV field, user id, user JSON. Returns 1 when the user was not present before. */
const JOIN = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
if n == 1 then return 1 end
return 0`;

/** KEYS conns, count, users; ARGV field. Returns 1 when that was its user's last connection, 0 if not, -1 if unknown. */
const LEAVE = `
local uid = redis.call('HGET', KEYS[1], ARGV[1])
if not uid then return -1 end
redis.call('HDEL', KEYS[1], ARGV[1])
local n = redis.call('HINCRBY', KEYS[2], uid, -1)
if n <= 0 then
  redis.call('HDEL', KEYS[2], uid)
  redis.call('HDEL', KEYS[3], uid)
  return 1
end
return 0`;

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

  private async add(sessionId: string, field: string, user: PresenceUser): Promise<boolean> {
    return (await this.redis.eval(JOIN, 3, ...keysOf(sessionId), field, user.userId, JSON.stringify(user))) === 1;
  }

  private async remove(sessionId: string, field: string): Promise<number> {
    return Number(await this.redis.eval(LEAVE, 3, ...keysOf(sessionId), field));
  }

  async join(sessionId: string, connectionId: string, user: PresenceUser): Promise<boolean> {
    const field = this.field(connectionId);
    this.local.set(field, { sessionId, user });
    return this.add(sessionId, field, user);
  }

  async leave(sessionId: string, connectionId: string, _userId: string): Promise<boolean> {
    const field = this.field(connectionId);
    this.local.delete(field);
    return (await this.remove(sessionId, field)) === 1;
  }

  async forgetUser(sessionId: string, userId: string): Promise<void> {
    for (const [field, entry] of this.local) if (entry.sessionId === sessionId && entry.user.userId === userId) this.local.delete(field);
    // Their connections on every process: the fields whose value is their id.
    const theirs: string[] = [];
    let cursor = "0";
    do {
      const [next, flat] = await this.redis.hscan(connsKey(sessionId), cursor, "COUNT", 500);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) if (flat[i + 1] === userId) theirs.push(flat[i]!);
    } while (cursor !== "0");
    for (const field of theirs) await this.remove(sessionId, field);
  }

  async setRole(sessionId: string, userId: string, role: string): Promise<void> {
    for (const entry of this.local.values()) if (entry.sessionId === sessionId && entry.user.userId === userId) entry.user = { ...entry.user, role };
    const json = await this.redis.hget(usersKey(sessionId), userId);
    if (!json) return;
    try {
      await this.redis.hset(usersKey(sessionId), userId, JSON.stringify({ ...(JSON.parse(json) as PresenceUser), role }));
    } catch {
      /* a value not ours to read: left alone */
    }
  }

  async users(sessionId: string): Promise<PresenceUser[]> {
    const out: PresenceUser[] = [];
    for (const json of Object.values(await this.redis.hgetall(usersKey(sessionId)))) {
      try {
        out.push(JSON.parse(json) as PresenceUser);
      } catch {
        /* a value not ours to read: ignored */
      }
    }
    return out;
  }

  /** Every session with connections: the sessions' ids, from a scan of the connection hashes. */
  private async sessions(): Promise<string[]> {
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", `${CONNS}*`, "COUNT", 200);
      cursor = next;
      for (const k of keys) out.push(k.slice(CONNS.length));
    } while (cursor !== "0");
    return out;
  }

  /** Removes connections whose field `test` picks; returns whether the user list changed. */
  private async removeWhere(sessionId: string, test: (field: string) => Promise<boolean> | boolean): Promise<boolean> {
    let changed = false;
    let cursor = "0";
    do {
      const [next, flat] = await this.redis.hscan(connsKey(sessionId), cursor, "COUNT", 500);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        const field = flat[i]!;
        if (await test(field)) changed = (await this.remove(sessionId, field)) === 1 || changed;
      }
    } while (cursor !== "0");
    return changed;
  }

  /** Drops the connections of processes that are gone (no `gan:node:<id>`); returns the sessions whose list changed. */
  async prune(): Promise<string[]> {
    const changed: string[] = [];
    const alive = new Map<string, boolean>();
    const dead = async (field: string) => {
      const node = field.slice(0, field.lastIndexOf("|"));
      if (!alive.has(node)) alive.set(node, (await this.redis.exists(`gan:node:${node}`)) === 1);
      return !alive.get(node);
    };
    for (const sessionId of await this.sessions()) if (await this.removeWhere(sessionId, dead)) changed.push(sessionId);
    return changed;
  }

  /** Puts this process's connections back (after a Redis restart); returns their sessions. */
  async restore(): Promise<string[]> {
    const sessions = new Set<string>();
    for (const [field, { sessionId, user }] of this.local) {
      await this.add(sessionId, field, user);
      sessions.add(sessionId);
    }
    return [...sessions];
  }

  /** At start with a fixed GAN_NODE_ID: what an earlier life of this process left behind. */
  async forgetOwn(): Promise<void> {
    for (const sessionId of await this.sessions()) await this.removeWhere(sessionId, (f) => f.startsWith(`${this.nodeId}|`));
  }
}
