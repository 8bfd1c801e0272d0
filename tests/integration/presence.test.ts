/**
 * One presence contract, both books: the memory of one process (server/realtime/presence.ts) and Redis for a cluster
 * (server/cluster/presence.ts, on a real Redis started here, two processes' books on it). A join says whether the
 * list of users changed (a user's first connection), a leave whether it was their last; a user counts once over tabs
 * and processes. The Redis book alone: a dead process's connections are pruned, a restarted Redis gets them back.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterPresence } from "../../server/cluster/presence";
import { type RedisServer, startRedis } from "../../server/cluster/redis";
import { Presence, type PresenceBook } from "../../server/realtime/presence";

let redis: RedisServer;
const clients: Redis[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.kill();
});

const client = () => {
  const c = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  clients.push(c);
  return c;
};
const ada = { userId: "u-ada", name: "Ada", role: "owner" };
const bob = { userId: "u-bob", name: "Bob", role: "viewer" };
const names = async (book: PresenceBook, sessionId: string) => (await book.users(sessionId)).map((u) => u.name).sort();

/** Two processes' books on one store: the same object in memory (one process), two ClusterPresence on one Redis. */
const kinds: [string, () => [PresenceBook, PresenceBook]][] = [
  [
    "memory",
    () => {
      const one = new Presence();
      return [one, one];
    },
  ],
  ["redis", () => [new ClusterPresence(client(), "node-a"), new ClusterPresence(client(), "node-b")]],
];

describe.each(kinds)("presence in %s", (kind, make) => {
  it("says when the list changes: a user's first connection and last, once over tabs and processes", async () => {
    const [a, b] = make();
    const s = `s-${kind}-1`;
    expect(await a.join(s, "c1", ada)).toBe(true);
    expect(await a.join(s, "c2", ada)).toBe(false); // a second tab
    expect(await b.join(s, "c3", ada)).toBe(false); // through the other process
    expect(await a.join(s, "c1", ada)).toBe(false); // the same connection again changes nothing
    expect(await b.join(s, "c4", bob)).toBe(true);
    expect(await names(a, s)).toEqual(["Ada", "Bob"]);
    expect(await names(b, s)).toEqual(["Ada", "Bob"]);
    expect(await a.leave(s, "c1", ada.userId)).toBe(false);
    expect(await a.leave(s, "c1", ada.userId)).toBe(false); // twice: nothing more
    expect(await b.leave(s, "c3", ada.userId)).toBe(false);
    expect(await a.leave(s, "c2", ada.userId)).toBe(true);
    expect(await names(b, s)).toEqual(["Bob"]);
    await b.setRole(s, bob.userId, "editor");
    expect(await a.users(s)).toEqual([{ ...bob, role: "editor" }]);
    expect(await b.leave(s, "c4", bob.userId)).toBe(true);
    expect(await a.users(s)).toEqual([]);
  });

  it("forgets a removed member's connections on every process at once, and only theirs", async () => {
    const [a, b] = make();
    const s = `s-${kind}-3`;
    await a.join(s, "c1", bob);
    await b.join(s, "c2", bob);
    await b.join(s, "c3", ada);
    await a.forgetUser(s, bob.userId);
    expect(await names(b, s)).toEqual(["Ada"]);
    // Their sockets' own leaves later change nothing; Ada's last leave still empties the list.
    expect(await b.leave(s, "c2", bob.userId)).toBe(false);
    expect(await b.leave(s, "c3", ada.userId)).toBe(true);
    expect(await a.users(s)).toEqual([]);
  });

  it("a thousand tabs of one user and one of another: two changes, and the list stays two long", async () => {
    const [a, b] = make();
    const s = `s-${kind}-2`;
    let changes = 0;
    for (let i = 0; i < 1000; i++) if (await (i % 2 ? a : b).join(s, `t${i}`, ada)) changes++;
    if (await a.join(s, "bob", bob)) changes++;
    expect(changes).toBe(2);
    expect(await names(a, s)).toEqual(["Ada", "Bob"]);
  });
});

describe("presence in Redis across processes", () => {
  it("prunes a dead process's connections, and puts a process's own back after a Redis restart", async () => {
    const r = client();
    await r.flushall(); // the contract's sessions above belong to no live process either
    const a = new ClusterPresence(r, "node-live");
    const dead = new ClusterPresence(client(), "node-dead");
    await r.set("gan:node:node-live", "1");
    await a.join("s-prune", "c1", ada);
    await dead.join("s-prune", "c2", bob);
    await dead.join("s-prune", "c3", ada);
    expect(await a.prune()).toEqual(["s-prune"]); // Bob's only connection was the dead process's
    expect(await names(a, "s-prune")).toEqual(["Ada"]);
    expect(await a.prune()).toEqual([]);

    await redis.kill();
    await redis.start();
    await new Promise((res) => setTimeout(res, 500));
    expect(await a.users("s-prune")).toEqual([]);
    expect(await a.restore()).toEqual(["s-prune"]);
    expect(await names(a, "s-prune")).toEqual(["Ada"]);
    // The count came back whole: the restored connection's leave is Ada's last.
    expect(await a.leave("s-prune", "c1", ada.userId)).toBe(true);
  });

  it("forgets what an earlier life of a process with the same id left behind", async () => {
    const before = new ClusterPresence(client(), "node-fixed");
    await before.join("s-forget", "c1", ada);
    await new ClusterPresence(client(), "node-other").join("s-forget", "c2", bob);
    await new ClusterPresence(client(), "node-fixed").forgetOwn();
    expect(await names(before, "s-forget")).toEqual(["Bob"]);
  });
});
