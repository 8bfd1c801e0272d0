/**
 * The composition root: one HTTP server carrying the Next.js pages, tRPC (`/api/trpc/`), socket.io, the
 * health check and the PNG endpoints (sample grids, RuntimeGenerator), over one database and one trainer
 * supervisor. `startServer` is what `server/index.ts` runs and what the integration tests start on port 0.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { Server as SocketServer } from "socket.io";
import type { ClientToServerEvents, ServerToClientEvents } from "../lib/protocol/socket";
import { DatasetStore } from "../lib/gan/data/store";
import { configLimitsFrom } from "../lib/gan/limits";
import { ActivityLog } from "./activity/log";
import { CookieSealer } from "./auth/auth";
import { RateLimits } from "./auth/rate-limits";
import { ImportProcess } from "./datasets/importer";
import { UploadArea } from "./datasets/uploads";
import { DatasetService } from "./datasets/service";
import { refuseBody, UPLOAD_PATH, type BodyRefusal } from "./http/bodies";
import { zipStoredFiles } from "./http/zip";
import { ClusterNode, LEASE_MS } from "./cluster/node";
import { attachRemoteRuns } from "./cluster/remote-runs";
import { DatabaseUrlError, databaseState, openDatabase } from "./db/client";
import { DiskGuard } from "./disk";
import { Store } from "./db/store";
import type { ServerEnv } from "./env";
import { allowOrigins } from "./realtime/origin";
import { Presence, type PresenceBook } from "./realtime/presence";
import { watchServices } from "./realtime/services";
import { CHANGE_KINDS, changeLogCsv, changeRow } from "./runs/change-log";
import { GeneratorWeightsCache } from "./runs/generator-weights";
import { attachRealtime, socketBroadcaster } from "./realtime/socket";
import { QuotaError } from "./limits";
import { RunError, RunService } from "./runs/service";
import { GeneratorPool } from "./trainer/generator-pool";
import { TrainerSupervisor } from "./trainer/supervisor";
import type { Context } from "./trpc/init";
import { appRouter } from "./trpc/root";

export interface RunningServer {
  url: string;
  port: number;
  store: Store;
  runs: RunService;
  io: SocketServer<ClientToServerEvents, ServerToClientEvents>;
  /** Graceful: trainers pause and checkpoint, sockets close, the database disconnects. */
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

function sendPng(res: ServerResponse, png: Uint8Array, cache: string): void {
  res.writeHead(200, { "content-type": "image/png", "content-length": png.length, "cache-control": cache });
  res.end(Buffer.from(png));
}

/** The largest message a socket.io client may send (engine.io's maxHttpBufferSize; its default is 1 MB). */
const SOCKET_MAX_MESSAGE_BYTES = 64 * 1024;

/** JSON-RPC codes of tRPC's error shape, so a tRPC client reads a refusal made before tRPC like one of its own. */
const RPC_CODES: Record<BodyRefusal["code"], number> = {
  BAD_REQUEST: -32600,
  METHOD_NOT_SUPPORTED: -32005,
  PAYLOAD_TOO_LARGE: -32013,
  UNSUPPORTED_MEDIA_TYPE: -32015,
};

/** Answers a request whose body is refused unread, and closes the connection so the body is never received. */
function refuse(res: ServerResponse, r: BodyRefusal, trpcShape: boolean): void {
  res.setHeader("connection", "close");
  sendJson(
    res,
    r.status,
    trpcShape
      ? { error: { message: r.message, code: RPC_CODES[r.code], data: { code: r.code, httpStatus: r.status } } }
      : { error: { code: r.code, message: r.message } },
  );
}

export async function startServer(env: ServerEnv, opts: { nextHandler?: Handler } = {}): Promise<RunningServer> {
  if (env.REDIS_URL && !env.DATABASE_URL.trim().toLowerCase().startsWith("postgres")) {
    throw new DatabaseUrlError(
      `REDIS_URL is set (a cluster of web processes), but DATABASE_URL is not PostgreSQL: the processes of a cluster share one postgresql:// database`,
    );
  }
  const { prisma, kind: databaseKind } = await openDatabase(env.DATABASE_URL);
  const store = new Store(prisma);
  if (!env.REDIS_URL) {
    // One process is the whole service: whatever was training or queued when it last stopped is its own.
    const interrupted = await store.markInterrupted();
    if (interrupted > 0)
      console.log(`${interrupted} run(s) were training when the server last stopped: marked interrupted, resumable from their last checkpoint`);
    // The trainer queue lived in memory: a run left "queued" can be started again (idle, or interrupted with a checkpoint).
    const requeued = await store.resetQueued();
    if (requeued.idle + requeued.interrupted > 0)
      console.log(
        `${requeued.idle + requeued.interrupted} run(s) waited in the trainer queue when the server last stopped: back to idle (${requeued.idle}) or interrupted (${requeued.interrupted}), to be started again`,
      );
  }

  // Every cookie read checks the user's current sessionVersion (sign-out and a password change end older cookies).
  const sealer = new CookieSealer(env.SESSION_SECRET, env.NODE_ENV === "production", (userId) => store.sessionVersion(userId));
  // In a cluster presence lives in Redis (every process's viewers); the cluster node is started below, before use.
  let presence: PresenceBook = new Presence();
  const datasetStore = new DatasetStore(path.join(env.dataDir, "datasets"));
  // Trainer processes read imported data sets ("ds-…" in a Config) from the same store.
  const supervisor = new TrainerSupervisor({
    env: { ...process.env, GAN_DATASETS_DIR: datasetStore.dir, ...(env.GAN_BACKEND ? { GAN_BACKEND: env.GAN_BACKEND } : {}) },
    // Below the web process's priority: pages' pushes and clicks win a contended core (GAN_TRAINER_NICENESS).
    niceness: env.limits.GAN_TRAINER_NICENESS,
  });
  const http = createServer();
  const io = new SocketServer<ClientToServerEvents, ServerToClientEvents>(http, {
    path: "/api/socket",
    serveClient: false,
    // Pages of other origins may not open a connection (GAN_ALLOWED_ORIGINS; empty: this server's own origin).
    allowRequest: allowOrigins(env.limits.GAN_ALLOWED_ORIGINS),
    // A browser sends only `join` and `leave` (tiny): a larger message closes its connection before it is parsed.
    maxHttpBufferSize: SOCKET_MAX_MESSAGE_BYTES,
  });
  // In a cluster: the Redis adapter under socket.io, this process's id and its leases on the runs it trains.
  const cluster = env.REDIS_URL ? await ClusterNode.start(env.REDIS_URL, io, env.GAN_NODE_ID ? { id: env.GAN_NODE_ID } : {}) : null;
  // Rate limits counted in Redis in a cluster (else each process would allow the whole rate), in memory otherwise.
  const rateLimits = new RateLimits(env.limits, cluster ? cluster.limiters() : undefined);
  const clusterPresence = cluster?.presence() ?? null;
  if (clusterPresence) {
    await clusterPresence.forgetOwn();
    presence = clusterPresence;
  }
  const generatorWeights = new GeneratorWeightsCache();
  const generators = new GeneratorPool({ maxProcesses: env.limits.GAN_MAX_GENERATORS, maxPendingPerRun: env.limits.GAN_MAX_GENERATOR_QUEUE });
  // What the health check reports of this process's load: loss pushes sent to sessions, and the event loop's delay
  // since start or since a loopback caller reset it (`/api/health?resetLoopLag=1`: the fan-out benchmark's window).
  const pushed = { losses: 0 };
  const loopLag = monitorEventLoopDelay({ resolution: 10 });
  loopLag.enable();
  let loopLagSince = Date.now();
  const sockets = socketBroadcaster(io);
  const broadcaster: typeof sockets = {
    ...sockets,
    losses: (...a) => {
      pushed.losses++;
      sockets.losses(...a);
    },
  };
  const importer = new ImportProcess(datasetStore.dir);
  const L = env.limits;
  const uploads: UploadArea = new UploadArea(path.join(env.dataDir, "uploads"), {
    maxBytes: L.DATASET_MAX_UPLOAD_MB * 2 ** 20,
    maxPerUser: L.GAN_MAX_WAITING_UPLOADS_PER_USER,
    maxInFlightPerUser: L.GAN_MAX_UPLOADS_IN_FLIGHT_PER_USER,
    maxInFlight: L.GAN_MAX_UPLOADS_IN_FLIGHT,
    maxBytesInFlight: L.GAN_MAX_UPLOAD_BYTES_IN_FLIGHT_MB * 2 ** 20,
    // An upload and the data set made of it are about the same size: room for both.
    checkRoom: (userId, bytes) => disk.checkRoom(userId, 2 * bytes, "upload this file"),
    // In a cluster the folder is shared: a file sent to one process is imported through any.
    ...(cluster ? { clusterNode: cluster.id } : {}),
  });
  const disk = new DiskGuard({ store, datasets: datasetStore, waitingUploadBytes: (userId) => uploads.waitingBytes(userId), limits: L, dataDir: env.dataDir });
  // Every writer of activity (runs, data sets, the sessions router) records through this one log: stored, then pushed.
  const activity = new ActivityLog({ store, broadcaster });
  const datasets = new DatasetService({ store, datasets: datasetStore, importer, broadcaster, activity });
  const runs = new RunService({
    store,
    supervisor,
    generators,
    broadcaster,
    activity,
    datasets,
    dataDir: env.dataDir,
    limits: env.limits,
    configLimits: configLimitsFrom(env.limits),
    history: { pagePoints: env.limits.GAN_HISTORY_PAGE_POINTS, overviewPoints: env.limits.GAN_HISTORY_OVERVIEW_POINTS },
    disk,
    ...(env.GAN_BACKEND ? { backend: env.GAN_BACKEND } : {}),
    ...(cluster ? { cluster } : {}),
  });
  const realtime = attachRealtime(io, { store, runs, sealer, presence });
  // The database and Redis as this process sees them, told to its pages when that changes (their connection banner).
  const services = watchServices(io, databaseKind, async () => {
    const [database, redis] = await Promise.all([databaseState(prisma), cluster ? cluster.state() : null]);
    return { database: database.ok, redis: redis ? redis.ok : null };
  });
  let sweep: NodeJS.Timeout | null = null;
  if (cluster) {
    runs.joinCluster((local) => attachRemoteRuns(io, local));
    cluster.track(() => runs.hereIds());
    // A run another process took over while this one was cut off from Redis: this process's trainer stops.
    cluster.onTakenOver((runId) => runs.fence(runId));
    // Runs of a process that is gone (its leases expired): interrupted, resumable from here. Now, then every lease.
    const adopt = () =>
      runs.adoptOrphans().then(
        async (ids) => {
          if (ids.length > 0) console.log(`${ids.length} run(s) lost their process: marked interrupted (or idle), resumable from any process`);
          // Viewers of a process that is gone leave the presence lists.
          for (const sessionId of (await clusterPresence?.prune()) ?? []) await realtime.presenceChanged(sessionId);
        },
        (e: unknown) => console.error("checking other processes' runs failed:", e),
      );
    await adopt();
    sweep = setInterval(() => void adopt(), LEASE_MS);
    // A restarted Redis holds no presence: this process's viewers go back in, and their sessions are told.
    cluster.onReconnect(() => {
      void clusterPresence
        ?.restore()
        .then(async (sessions) => {
          for (const sessionId of sessions) await realtime.presenceChanged(sessionId);
        })
        .catch(() => undefined);
    });
    sweep.unref();
  }

  const createContext = async ({ req, res }: { req: IncomingMessage; res: ServerResponse }): Promise<Context> => ({
    userId: (await sealer.read(req.headers.cookie))?.userId ?? null,
    store,
    activity,
    runs,
    datasets,
    uploads,
    sealer,
    presence,
    realtime,
    res,
    setCookies: [],
    limits: env.limits,
    ip: req.socket.remoteAddress ?? "unknown",
    rateLimits,
    contentLength: req.headers["content-length"] === undefined ? null : Number(req.headers["content-length"]),
  });
  // Calls are small JSON (counted as they stream, PAYLOAD_TOO_LARGE past the cap) in bounded batches; only a data set
  // upload carries a large body, as octet-stream, streamed to disk as it arrives (server/http/bodies.ts checks both first).
  const bodyLimits = { jsonMaxBytes: env.limits.GAN_MAX_JSON_BODY_KB * 1024, uploadMaxBytes: env.limits.DATASET_MAX_UPLOAD_MB * 2 ** 20 };
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/api/trpc/",
    maxBodySize: bodyLimits.jsonMaxBytes,
    maxBatchSize: env.limits.GAN_MAX_TRPC_BATCH,
    createContext,
  });
  const trpcUpload = createHTTPHandler({
    router: appRouter,
    basePath: "/api/trpc/",
    maxBodySize: bodyLimits.uploadMaxBytes,
    allowBatching: false,
    createContext,
  });

  /** The signed-in member's access to a run, or an HTTP error already sent. */
  const runAccess = async (req: IncomingMessage, res: ServerResponse, runId: string) => {
    const user = await sealer.read(req.headers.cookie);
    if (!user) {
      sendJson(res, 401, { error: { code: "UNAUTHORIZED", message: "sign in first" } });
      return null;
    }
    const run = await store.getRun(runId);
    if (!run) {
      sendJson(res, 404, { error: { code: "NOT_FOUND", message: `run ${runId} does not exist` } });
      return null;
    }
    if (!(await store.getMembership(user.userId, run.sessionId))) {
      sendJson(res, 403, { error: { code: "FORBIDDEN", message: "you are not a member of this run's session" } });
      return null;
    }
    return run;
  };

  const api: Handler = async (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      return refuse(res, { status: 400, code: "BAD_REQUEST", message: "the request's URL cannot be read" }, false);
    }
    const refusal = refuseBody(req, url.pathname, bodyLimits);
    if (refusal) return refuse(res, refusal, url.pathname.startsWith("/api/trpc/"));
    // socket.io (engine.io) answers its own requests, long-polling included, on the same server.
    if (url.pathname.startsWith("/api/socket/")) return;
    if (url.pathname === "/api/health") {
      const loopback = ["127.0.0.1", "::1", "::ffff:127.0.0.1"].includes(req.socket.remoteAddress ?? "");
      if (url.searchParams.get("resetLoopLag") === "1" && loopback) {
        loopLag.reset();
        loopLagSince = Date.now();
      }
      const database = { kind: databaseKind, ...(await databaseState(prisma)) };
      const redis = cluster ? await cluster.state() : null;
      // `backend`: what trainers are told to use ("auto": the fastest that works); `trainerBackend`: what the
      // last trainer process actually runs on (null before the first run starts).
      const ok = database.ok && (redis?.ok ?? true);
      return sendJson(res, ok ? 200 : 503, {
        ok,
        database,
        // null: one process is the whole service; else this process's id and whether Redis answers.
        cluster: cluster ? { node: cluster.id, redis } : null,
        backend: env.GAN_BACKEND || "auto",
        trainerBackend: runs.lastBackend,
        liveRuns: runs.liveCount(),
        queuedRuns: runs.queuedCount(),
        generators: generators.alive,
        pushes: { ...pushed },
        eventLoopLag: { p99Ms: loopLag.percentile(99) / 1e6, maxMs: loopLag.max / 1e6, sinceMs: Date.now() - loopLagSince },
      });
    }
    let m = /^\/api\/runs\/([^/]+)\/grids\/(\d+)\.png$/.exec(url.pathname);
    if (m) {
      const run = await runAccess(req, res, m[1]!);
      if (!run) return;
      const grid = await store.getGrid(run.id, Number(m[2]));
      if (!grid) return sendJson(res, 404, { error: { code: "NOT_FOUND", message: `run ${run.id} has no grid for epoch ${m[2]}` } });
      return sendPng(res, grid.png, "private, max-age=31536000, immutable");
    }
    // The RuntimeGenerator's weights for a page to run them itself (server/runs/generator-weights.ts): model.json of
    // the newest version (revalidated by its ETag), and each version's weights, immutable.
    m = /^\/api\/runs\/([^/]+)\/generator\/(?:model\.json|weights-(\d{1,12})\.bin)$/.exec(url.pathname);
    if (m) {
      const run = await runAccess(req, res, m[1]!);
      if (!run) return;
      const current = await generatorWeights.current(run.id, run.outDir);
      if (!current) return sendJson(res, 409, { error: { code: "CONFLICT", message: "this run has no weights yet: they come a few seconds after it starts" } });
      if (m[2] === undefined) {
        const headers = { etag: current.etag, "cache-control": "private, no-cache", "x-gan-iteration": String(current.iteration) };
        if (req.headers["if-none-match"] === current.etag) {
          res.writeHead(304, headers);
          res.end();
          return;
        }
        res.writeHead(200, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(current.modelJson) });
        res.end(current.modelJson);
        return;
      }
      const version = generatorWeights.version(run.id, Number(m[2]));
      if (!version) {
        return sendJson(res, 404, {
          error: {
            code: "NOT_FOUND",
            message: `run ${run.id} has no weights of iteration ${m[2]} any more: its newest are of iteration ${current.iteration} (read model.json again)`,
          },
        });
      }
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": version.weights.length,
        "cache-control": "private, max-age=31536000, immutable",
        etag: version.etag,
      });
      res.end(Buffer.from(version.weights.buffer, version.weights.byteOffset, version.weights.byteLength));
      return;
    }
    // A run's change log (server/runs/change-log.ts), to reproduce it: JSON or CSV, as a download.
    m = /^\/api\/runs\/([^/]+)\/changes\.(json|csv)$/.exec(url.pathname);
    if (m) {
      const run = await runAccess(req, res, m[1]!);
      if (!run) return;
      const rows = (await store.listRunActivity(run.id, CHANGE_KINDS)).flatMap((e) => changeRow(e) ?? []);
      const name = `gan-studio-${run.name.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 60) || "run"}-changes.${m[2]}`;
      const body = m[2] === "csv" ? changeLogCsv(rows) : JSON.stringify({ runId: run.id, name: run.name, changes: rows }, null, 2);
      res.writeHead(200, {
        "content-type": m[2] === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
        "content-disposition": `attachment; filename="${name}"`,
        "cache-control": "no-store",
      });
      res.end(body);
      return;
    }
    m = /^\/api\/runs\/([^/]+)\/generate$/.exec(url.pathname);
    if (m) {
      const run = await runAccess(req, res, m[1]!);
      if (!run) return;
      const q = (k: string, d: number) => (url.searchParams.has(k) ? Number(url.searchParams.get(k)) : d);
      const label = q("label", 0);
      const seed = q("seed", 0);
      const count = q("count", 1);
      if (![label, seed, count].every(Number.isInteger) || count < 1 || count > 64 || seed < 0) {
        return sendJson(res, 400, { error: { code: "BAD_REQUEST", message: "label, seed and count must be integers (count 1–64, seed ≥ 0)" } });
      }
      try {
        const out = await runs.generate(run.id, { label, seed, count });
        return sendPng(res, out.count === 1 ? out.png[0]! : out.stripPng, "no-store");
      } catch (e) {
        if (e instanceof QuotaError) {
          if (e.quota.retryAfterSeconds !== undefined) res.setHeader("retry-after", String(e.quota.retryAfterSeconds));
          return sendJson(res, 429, { error: { code: "TOO_MANY_REQUESTS", message: e.message, quota: e.quota } });
        }
        const code = e instanceof RunError ? e.code : "INTERNAL";
        const status = { BAD_REQUEST: 400, NOT_FOUND: 404, CONFLICT: 409, UNAVAILABLE: 503, INTERNAL: 500 }[code];
        return sendJson(res, status, { error: { code, message: (e as Error).message } });
      }
    }
    m = /^\/api\/runs\/([^/]+)\/checkpoints\/(latest|best)\.zip$/.exec(url.pathname);
    if (m) {
      const run = await runAccess(req, res, m[1]!);
      if (!run) return;
      const checkpoint = await store.latestCheckpoint(run.id, m[2]!);
      if (!checkpoint) return sendJson(res, 404, { error: { code: "NOT_FOUND", message: `run ${run.id} has no ${m[2]} checkpoint` } });
      // The folder holds the newest checkpoint of this kind: model.json, weights.bin, optimizer.bin (tf.io layout),
      // streamed from files opened once (a checkpoint written meanwhile does not tear the download).
      let zip: Awaited<ReturnType<typeof zipStoredFiles>>;
      try {
        const names = (await readdir(checkpoint.dir)).sort();
        zip = await zipStoredFiles(names.map((name) => ({ name: `${m![2]}/${name}`, path: path.join(checkpoint.dir, name) })));
      } catch {
        return sendJson(res, 404, { error: { code: "NOT_FOUND", message: `the ${m[2]} checkpoint's files of run ${run.id} are gone from the server` } });
      }
      const fileName = `${run.name.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 60) || "run"}-${m[2]}-epoch-${Math.round(checkpoint.epoch)}.zip`;
      res.writeHead(200, {
        "content-type": "application/zip",
        "content-length": zip.length,
        "content-disposition": `attachment; filename="${fileName}"`,
        "cache-control": "no-store",
      });
      // A client that goes away mid-download ends the pipeline; nothing more to answer then.
      await zip.writeTo(res).catch(() => undefined);
      return;
    }
    m = /^\/api\/sessions\/([^/]+)\/datasets\/([^/]+)\/examples\.png$/.exec(url.pathname);
    if (m) {
      const user = await sealer.read(req.headers.cookie);
      if (!user) return sendJson(res, 401, { error: { code: "UNAUTHORIZED", message: "sign in first" } });
      if (!(await store.getMembership(user.userId, m[1]!))) {
        return sendJson(res, 403, { error: { code: "FORBIDDEN", message: "you are not a member of this session" } });
      }
      const png = await datasets.examplesPng(m[1]!, m[2]!);
      if (!png) return sendJson(res, 404, { error: { code: "NOT_FOUND", message: `this session has no data set ${m[2]}` } });
      return sendPng(res, png, "private, max-age=3600");
    }
    if (url.pathname === UPLOAD_PATH) return trpcUpload(req, res);
    if (url.pathname.startsWith("/api/trpc/")) return trpc(req, res);
    if (url.pathname.startsWith("/api/")) return sendJson(res, 404, { error: { code: "NOT_FOUND", message: `no API at ${url.pathname}` } });
    if (opts.nextHandler) return opts.nextHandler(req, res);
    return sendJson(res, 404, { error: { code: "NOT_FOUND", message: "the web app is not served by this process" } });
  };

  http.on("request", (req, res) => {
    Promise.resolve(api(req, res)).catch((e: unknown) => {
      console.error(`request ${req.method} ${req.url} failed:`, e);
      if (!res.headersSent) sendJson(res, 500, { error: { code: "INTERNAL", message: "the server failed on this request" } });
      else res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(env.PORT, env.HOST, resolve));
  const port = (http.address() as AddressInfo).port;

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await runs.shutdown();
      await supervisor.shutdownAll(5_000);
      generators.closeAll();
      importer.close();
      uploads.close();
      services.stop();
      if (sweep) clearInterval(sweep);
      loopLag.disable();
      // socket.io closes the HTTP server it is attached to.
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await cluster?.close();
      await prisma.$disconnect();
    })());
  return { url: `http://${env.HOST}:${port}`, port, store, runs, io, close };
}
