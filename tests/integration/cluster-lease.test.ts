/**
 * A process's leases on its runs in a real Redis (server/cluster/node.ts): renewed while they are its own or nobody's,
 * never taken back from a process that took a run over while this one was cut off.
 */
import { createServer } from "node:http";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterNode } from "../../server/cluster/node";
import { type RedisServer, startRedis } from "../../server/cluster/redis";

let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.kill();
});

describe("leases", () => {
  it("renews its own or a free lease, leaves another process's alone and says so", async () => {
    const io = new Server(createServer());
    const node = await ClusterNode.start(redis.url, io, { id: "node-a" });
    try {
      node.track(() => ["run-1"]);
      const told: string[] = [];
      node.onTakenOver((runId, holder) => told.push(`${runId} by ${holder}`));
      await node.heartbeat();
      expect(await client.get("gan:run:run-1:node")).toBe("node-a");
      expect(Number(await client.pttl("gan:run:run-1:node"))).toBeGreaterThan(5_000);
      expect(await client.get("gan:node:node-a")).not.toBeNull();

      // node-b took the run over while node-a was cut off: node-a's heartbeat leaves it to node-b.
      await client.set("gan:run:run-1:node", "node-b", "PX", 8_000);
      await node.heartbeat();
      expect(await client.get("gan:run:run-1:node")).toBe("node-b");
      expect([...node.takenOver]).toEqual(["run-1"]);
      await node.heartbeat();
      expect(told).toEqual(["run-1 by node-b"]); // told once, however many heartbeats see it
      expect((await node.owners(["run-1", "run-2"])).get("run-1")).toBe("node-b");

      // node-b's lease expired (it is gone too): node-a holds it again.
      await client.del("gan:run:run-1:node");
      await node.heartbeat();
      expect(await client.get("gan:run:run-1:node")).toBe("node-a");
      expect(node.takenOver.size).toBe(0);
    } finally {
      // As the server closes: socket.io (and its adapter) first, then the Redis connections.
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await node.close();
    }
    // Closing gives up its own lease and its node key.
    expect(await client.get("gan:run:run-1:node")).toBeNull();
    expect(await client.get("gan:node:node-a")).toBeNull();
  });
});
