/**
 * One web process of a cluster (REDIS_URL set): the processes share one PostgreSQL and one Redis, and any of them
 * serves any member of any session.
 *
 * - socket.io's Redis adapter (@socket.io/redis-adapter, pub/sub): a push made by the process whose child trains a
 *   run reaches the session's sockets on every process; `serverSideEmit` with acknowledgements carries commands
 *   between processes (controls of a run trained elsewhere: server/cluster/remote-runs.ts). Chosen over the Redis
 *   Streams adapter because Redis keeps nothing on disk here: after a Redis restart a stream is empty too, so its
 *   replay would not bring anything back; what a viewer missed is in the database, and the page reads it again.
 * - Liveness: every process holds `gan:node:<id>` and, for each run its children train, `gan:run:<runId>:node`, both
 *   renewed every HEARTBEAT_MS with a TTL of LEASE_MS. A run marked running/paused whose key has expired lost its
 *   process: any other process marks it interrupted (resumable from its last checkpoint from any process).
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import type { LimiterFactory } from "../auth/rate-limits";
import { redactUrl } from "../db/migrate-pg";
import type { Server } from "socket.io";
import { ClusterPresence } from "./presence";

export const HEARTBEAT_MS = 2_000;
export const LEASE_MS = 8_000;
/** How long a process waits for the others' answers to a server-side event (a control of a run trained elsewhere). */
export const REQUESTS_TIMEOUT_MS = 5_000;
const PREFIX = "gan";

export class RedisUrlError extends Error {
  override name = "RedisUrlError";
}

export type RedisState = { ok: true } | { ok: false; error: string };

export class ClusterNode {
  /** The process's id in the cluster: GAN_NODE_ID, else host:pid:random. */
  readonly id: string;
  /** A run without a lease must stay so this long to count as lost: past one heartbeat, so a restarted Redis has them back. */
  readonly recheckMs = 2 * HEARTBEAT_MS;
  /** The runs this process trains or queues now (set by the run service: `track`). */
  private owned: () => string[] = () => [];
  private timer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;
  private readonly reconnected = new Set<() => void>();
  private presenceBook: ClusterPresence | null = null;

  private constructor(
    readonly url: string,
    private readonly redis: Redis,
    private readonly pub: Redis,
    private readonly sub: Redis,
    /** The rate limiters' own connection: no offline queue, so a lost Redis fails their calls at once (see limiters). */
    private readonly limits: Redis,
    id: string | undefined,
  ) {
    this.id = id || `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
    for (const c of [redis, pub, sub, limits]) {
      c.on("error", (e: Error) => {
        this.lastError = e.message;
      });
      c.on("ready", () => {
        this.lastError = null;
      });
    }
    // Redis came back (it may have restarted empty): leases at once, then, once the adapter's clients have had a moment
    // to subscribe again, whatever else keeps state there. (The first "ready" came before this listener: start().)
    redis.on("ready", () => {
      void this.beat();
      setTimeout(() => {
        for (const f of this.reconnected) f();
      }, 1_000).unref();
    });
  }

  /** Connects (an unreachable Redis is refused within 10 s, naming REDIS_URL), then attaches the adapter to `io`. */
  static async start(url: string, io: Server, opts: { id?: string } = {}): Promise<ClusterNode> {
    const make = () => {
      const client = new Redis(url, {
        lazyConnect: true,
        connectTimeout: 10_000,
        // Commands wait while Redis is away (they are retried once it is back) rather than failing at once.
        maxRetriesPerRequest: null,
        retryStrategy: (times) => Math.min(200 * times, 2_000),
      });
      // Errors are answered where they matter (connect here, the health check's state later): not printed by ioredis.
      client.on("error", () => undefined);
      return client;
    };
    const redis = make();
    try {
      await redis.connect();
      await redis.ping();
    } catch (e) {
      redis.disconnect();
      throw new RedisUrlError(`REDIS_URL ${redactUrl(url)}: cannot connect to Redis (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
    const pub = make();
    const sub = make();
    const limits = new Redis(url, { lazyConnect: true, connectTimeout: 10_000, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    limits.on("error", () => undefined);
    await Promise.all([pub.connect(), sub.connect(), limits.connect()]);
    io.adapter(createAdapter(pub, sub, { key: `${PREFIX}:socket.io`, requestsTimeout: REQUESTS_TIMEOUT_MS }));
    const node = new ClusterNode(url, redis, pub, sub, limits, opts.id);
    await node.beat();
    node.timer = setInterval(() => void node.beat(), HEARTBEAT_MS);
    node.timer.unref();
    return node;
  }

  /** Runs whose lease another process holds now although this one still trains them (see beat). */
  readonly takenOver = new Set<string>();
  private readonly takenOverListeners = new Set<(runId: string, holder: string) => void>();

  /** Told once when another process is found holding the lease of a run this one trains (the run service fences it). */
  onTakenOver(listener: (runId: string, holder: string) => void): void {
    this.takenOverListeners.add(listener);
  }

  private async beat(): Promise<void> {
    try {
      const owned = this.owned();
      const m = this.redis.multi().set(`${PREFIX}:node:${this.id}`, String(Date.now()), "PX", LEASE_MS);
      // A lease is renewed only while it is this process's or nobody's: after this process was cut off from Redis for
      // longer than LEASE_MS, another may have taken the run over, and that lease is not overwritten.
      for (const runId of owned) m.eval(RENEW, 1, runKey(runId), this.id, String(LEASE_MS));
      const results = (await m.exec()) ?? [];
      owned.forEach((runId, i) => {
        const holder = results[i + 1]?.[1];
        if (typeof holder === "string" && holder !== this.id) {
          if (!this.takenOver.has(runId)) {
            console.error(`run ${runId}: process ${holder} holds its lease now (this process ${this.id} lost Redis for too long); its lease is left to it`);
            this.takenOver.add(runId);
            for (const l of this.takenOverListeners) l(runId, holder);
          }
        } else this.takenOver.delete(runId);
      });
      for (const runId of this.takenOver) if (!owned.includes(runId)) this.takenOver.delete(runId);
    } catch (e) {
      this.lastError = e instanceof Error ? e.message : String(e);
    }
  }

  /** Which runs to hold leases on: every heartbeat renews them; a run left out expires within LEASE_MS. */
  track(owned: () => string[]): void {
    this.owned = owned;
  }

  /** This process trains (or queues) the run from now on: its lease at once, before the next heartbeat. */
  async own(runId: string): Promise<void> {
    await this.redis.set(runKey(runId), this.id, "PX", LEASE_MS).catch(() => undefined);
  }

  /** Forces a heartbeat now (tests; a reconnect does it by itself). */
  heartbeat(): Promise<void> {
    return this.beat();
  }

  /** Gives up the run's lease now (only if this process holds it: another may own the run by now). */
  async disown(runId: string): Promise<void> {
    await this.redis
      .eval(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`, 1, runKey(runId), this.id)
      .catch(() => undefined);
  }

  /** Which process trains each run (null: none holds its lease). */
  async owners(runIds: string[]): Promise<Map<string, string | null>> {
    if (runIds.length === 0) return new Map();
    const values = await this.redis.mget(runIds.map(runKey));
    return new Map(runIds.map((id, i) => [id, values[i] ?? null]));
  }

  /** Presence kept in this Redis, shared by every process (server/cluster/presence.ts); one per process. */
  presence(): ClusterPresence {
    this.presenceBook ??= new ClusterPresence(this.redis, this.id);
    return this.presenceBook;
  }

  /**
   * Rate limiters counted in Redis, so a cluster of N processes allows what one does, not N times it. While Redis is
   * lost each process counts in its own memory (the insurance limiter) rather than refusing or waiting.
   */
  limiters(): LimiterFactory {
    return (options) =>
      new RateLimiterRedis({
        storeClient: this.limits,
        ...options,
        keyPrefix: `${PREFIX}:rl:${options.keyPrefix}`,
        insuranceLimiter: new RateLimiterMemory(options),
      });
  }

  /** Runs `f` each time Redis answers again after it was lost. */
  onReconnect(f: () => void): void {
    this.reconnected.add(f);
  }

  /** Redis answers (for the health check). Never throws. */
  async state(): Promise<RedisState> {
    try {
      await Promise.race([this.redis.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error("no answer within 1 s")), 1_000))]);
      return { ok: true };
    } catch (e) {
      return { ok: false, error: this.lastError ?? (e instanceof Error ? e.message : String(e)) };
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const runId of this.owned()) await this.disown(runId);
    await this.presence()
      .forgetOwn()
      .catch(() => undefined);
    await this.redis.del(`${PREFIX}:node:${this.id}`).catch(() => undefined);
    for (const c of [this.redis, this.pub, this.sub, this.limits]) c.disconnect();
  }
}

const runKey = (runId: string) => `${PREFIX}:run:${runId}:node`;

/** Sets the lease to ARGV[1] for ARGV[2] ms when it is free or already ARGV[1]'s; returns who holds it after. */
const RENEW = `local h = redis.call("get", KEYS[1])
if h == false or h == ARGV[1] then redis.call("set", KEYS[1], ARGV[1], "PX", ARGV[2]) return ARGV[1] end
return h`;
