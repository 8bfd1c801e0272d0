/**
 * Runs: the one place that turns people's controls into trainer commands and trainer events into database rows
 * and pushes. Every push happens after its write succeeded, so what a viewer saw live is also in the history.
 * The engine is reached only through trainer processes (server/trainer); this file never trains.
 */
import path from "node:path";
import { ConfigError, parseConfig, type Config, type ConfigInput } from "../../lib/gan/config.js";
import type { GenerateReply, TrainerEventMessage } from "../../lib/protocol/trainer.js";
import type { ActivityPush, DiagnosticsPush, GridPush, LossPoint, RunHistory, RunStatusPush } from "../../lib/protocol/socket.js";
import type { Store } from "../db/store.js";
import type { GeneratorError, GeneratorPool } from "../trainer/generator-pool.js";
import type { RunProcess, RunProcessEvent, TrainerSupervisor } from "../trainer/supervisor.js";

/** Where pushes go; socket.io in the server, an array in tests. */
export interface Broadcaster {
  losses(sessionId: string, runId: string, points: LossPoint[]): void;
  status(sessionId: string, push: RunStatusPush): void;
  grid(sessionId: string, push: GridPush): void;
  diagnostics(sessionId: string, push: DiagnosticsPush): void;
  activity(sessionId: string, entry: ActivityPush): void;
}

export type RunErrorCode = "BAD_REQUEST" | "NOT_FOUND" | "CONFLICT" | "UNAVAILABLE";
export class RunError extends Error {
  constructor(
    readonly code: RunErrorCode,
    message: string,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = "RunError";
  }
}

const TERMINAL = new Set(["completed", "stopped", "failed", "interrupted"]);
const PARAMS = ["W", "b", "beta", "gamma"] as const;

export const gridUrl = (runId: string, epoch: number) => `/api/runs/${runId}/grids/${epoch}.png`;

interface Live {
  process: RunProcess;
  sessionId: string;
  buffer: LossPoint[];
  timer: NodeJS.Timeout | null;
  lastFlush: number;
  flushing: Promise<void>;
  /** Who asked for the next pause/resume/stop, reported when the trainer confirms it with its iteration. */
  requested: Map<string, string | null>;
  /** Who asked for each LRateMultiplier/optimizer change, by a key of what changes, in order. */
  changes: Map<string, (string | null)[]>;
  scopes: { scope: string; part: "generator" | "discriminator" }[];
  lrMultipliers: Record<string, Record<string, number>>;
  imagesPerSec?: number;
}

export class RunService {
  private readonly live = new Map<string, Live>();
  /** The backend the last trainer process reported (name and what it runs on), for the health check. */
  lastBackend: { name: string; detail: string } | null = null;

  constructor(
    private readonly deps: {
      store: Store;
      supervisor: TrainerSupervisor;
      broadcaster: Broadcaster;
      dataDir: string;
      backend?: string;
      /** RuntimeGenerator processes, which draw from the trainers' weight snapshots. */
      generators: GeneratorPool;
      /** Losses are written and pushed in batches at most this often (ms). */
      flushMs?: number;
      /**
       * Checks a new run's Config against its data set (shared in the session, the network fits, one batch fits);
       * throws an error with `issues` (path, message) when it does not. Without it any data set name is accepted.
       */
      datasets?: { checkForRun(sessionId: string, config: Config): Promise<void> };
    },
  ) {}

  private get store() {
    return this.deps.store;
  }

  /** Stores an activity entry and pushes it to the session (for session-level changes made through the API). */
  recordActivity(entry: Parameters<Store["addActivity"]>[0]): Promise<void> {
    return this.activity(entry);
  }

  private async activity(entry: Parameters<Store["addActivity"]>[0]): Promise<void> {
    const saved = await this.store.addActivity(entry);
    this.deps.broadcaster.activity(entry.sessionId, toActivityPush(saved));
  }

  /** Creates a run from a Config (validated: bad fields come back with their paths). */
  async createRun(input: { sessionId: string; userId: string; name: string; config: ConfigInput }) {
    let config;
    try {
      config = parseConfig(input.config);
    } catch (e) {
      if (e instanceof ConfigError) throw new RunError("BAD_REQUEST", e.message, e.issues);
      throw e;
    }
    try {
      await this.deps.datasets?.checkForRun(input.sessionId, config);
    } catch (e) {
      const issues = (e as { issues?: { path: string; message: string }[] }).issues;
      if (issues) throw new RunError("BAD_REQUEST", (e as Error).message, issues);
      throw e;
    }
    const id = crypto.randomUUID();
    const run = await this.store.createRun({
      sessionId: input.sessionId,
      createdById: input.userId,
      name: input.name,
      config,
      datasetRef: config.dataset,
      outDir: path.join(this.deps.dataDir, "runs", id),
      id,
    });
    await this.activity({ sessionId: input.sessionId, runId: run.id, userId: input.userId, kind: "run.created", detail: { name: input.name, config } });
    return run;
  }

  private async getRun(runId: string) {
    const run = await this.store.getRun(runId);
    if (!run) throw new RunError("NOT_FOUND", `run ${runId} does not exist`);
    return run;
  }

  /** Starts a run, or continues a stopped / failed / interrupted one from its latest checkpoint. */
  async start(runId: string, userId: string | null): Promise<void> {
    if (this.live.get(runId)) {
      const status = (await this.getRun(runId)).status;
      if (!TERMINAL.has(status)) throw new RunError("CONFLICT", `run ${runId} is already ${status}`);
      await this.release(runId);
    }
    const run = await this.getRun(runId);
    if (run.status === "completed") throw new RunError("CONFLICT", "this run has completed: start a new run to train further");
    const checkpoint = run.status === "idle" ? null : await this.store.latestCheckpoint(runId, "latest");
    if (run.status !== "idle" && !checkpoint) throw new RunError("CONFLICT", "this run has no checkpoint yet: start a new run");
    this.spawn(run, checkpoint ? { resumeFrom: checkpoint.dir } : {});
    await this.activity({
      sessionId: run.sessionId,
      runId,
      userId,
      kind: checkpoint ? "run.resumedFromCheckpoint" : "run.started",
      detail: checkpoint ? { checkpointIteration: checkpoint.iteration } : {},
      iteration: checkpoint?.iteration ?? 0,
    });
  }

  private spawn(run: { id: string; sessionId: string; config: unknown; outDir: string }, opts: { resumeFrom?: string }): Live {
    const process = this.deps.supervisor.start({
      runId: run.id,
      config: parseConfig(run.config),
      outDir: run.outDir,
      ...(opts.resumeFrom ? { resumeFrom: opts.resumeFrom } : {}),
      ...(this.deps.backend ? { backend: this.deps.backend } : {}),
    });
    const live: Live = {
      process,
      sessionId: run.sessionId,
      buffer: [],
      timer: null,
      lastFlush: 0,
      flushing: Promise.resolve(),
      requested: new Map(),
      changes: new Map(),
      scopes: [],
      lrMultipliers: {},
    };
    this.live.set(run.id, live);
    process.on((e) => {
      this.onEvent(run.id, live, e).catch((err: unknown) => {
        console.error(`run ${run.id}: could not record ${e.type}: ${(err as Error).message}`);
      });
    });
    return live;
  }

  /**
   * Throttles loss pushes to one per `flushMs` with a leading edge: a point that arrives after a quiet interval
   * goes out at once (its latency is one database write), and a burst waits for the next slot.
   */
  private scheduleFlush(runId: string, live: Live): void {
    if (live.timer) return;
    const interval = this.deps.flushMs ?? 100;
    const wait = Math.max(0, live.lastFlush + interval - Date.now());
    live.timer = setTimeout(() => {
      live.timer = null;
      live.lastFlush = Date.now();
      void this.flush(runId, live);
    }, wait);
  }

  /** Writes buffered losses in one transaction, then pushes them; serialised per run so pushes keep order. */
  private flush(runId: string, live: Live): Promise<void> {
    live.flushing = live.flushing.then(async () => {
      if (live.buffer.length === 0) return;
      // A diverging run reports non-finite losses once before it fails; its failure says so, SQLite cannot store NaN.
      const points = live.buffer.splice(0).filter((p) => Number.isFinite(p.gReal + p.fake + p.real));
      if (points.length === 0) return;
      await this.store.appendMetrics(
        runId,
        points.map((p) => ({ ...p, msPerIter: (p as LossPoint & { msPerIter?: number }).msPerIter ?? 0 })),
      );
      const last = points[points.length - 1]!;
      await this.store.updateRun(runId, { iteration: last.iteration + 1, epoch: last.epoch });
      this.deps.broadcaster.losses(live.sessionId, runId, points.map(({ iteration, epoch, gReal, fake, real, at }) => ({ iteration, epoch, gReal, fake, real, ...(at ? { at } : {}) })));
    });
    return live.flushing;
  }

  private async onEvent(runId: string, live: Live, e: RunProcessEvent): Promise<void> {
    if (e.type === "ready") {
      live.scopes = e.info.scopes;
      live.lrMultipliers = e.info.lrMultipliers;
      this.lastBackend = e.info.backend;
      await this.store.updateRun(runId, {
        backend: e.info.backend.name,
        iterationsPerEpoch: e.info.iterationsPerEpoch,
        totalIterations: e.info.totalIterations,
        iteration: e.info.iteration,
      });
      return;
    }
    if (e.type === "exit") {
      if (live.timer) clearTimeout(live.timer);
      live.timer = null;
      await this.flush(runId, live);
      if (this.live.get(runId) === live) this.live.delete(runId);
      const run = await this.store.getRun(runId);
      if (!run) return;
      if (!e.exit.expected && !TERMINAL.has(run.status)) {
        await this.store.updateRun(runId, { status: "failed", failureReason: e.exit.reason });
        this.deps.broadcaster.status(live.sessionId, { ...statusOf(run), status: "failed", reason: e.exit.reason });
        await this.activity({ sessionId: live.sessionId, runId, userId: null, kind: "run.failed", detail: { reason: e.exit.reason }, iteration: run.iteration });
      }
      return;
    }
    await this.onTrainerEvent(runId, live, e.event);
  }

  private async onTrainerEvent(runId: string, live: Live, ev: TrainerEventMessage): Promise<void> {
    switch (ev.type) {
      case "losses":
        live.buffer.push({ iteration: ev.iteration, epoch: ev.epoch, gReal: ev.losses.GReal, fake: ev.losses.Fake, real: ev.losses.Real, msPerIter: ev.msPerIter, at: Date.now() } as LossPoint);
        this.scheduleFlush(runId, live);
        return;
      case "status": {
        await this.flush(runId, live);
        await this.store.updateRun(runId, { status: ev.status, iteration: ev.iteration, epoch: ev.epoch, backend: ev.backend, failureReason: ev.reason ?? null });
        const run = await this.getRun(runId);
        this.deps.broadcaster.status(live.sessionId, { ...statusOf(run), ...(live.imagesPerSec ? { imagesPerSec: live.imagesPerSec } : {}) });
        const kinds: Record<string, string> = { paused: "pause", running: "resume", stopped: "stop" };
        const kind = kinds[ev.status];
        if (kind && live.requested.has(kind)) {
          const userId = live.requested.get(kind) ?? null;
          live.requested.delete(kind);
          await this.activity({ sessionId: live.sessionId, runId, userId, kind: `run.${kind}`, detail: {}, iteration: ev.iteration });
        }
        if (ev.status === "completed" || ev.status === "failed") {
          await this.activity({ sessionId: live.sessionId, runId, userId: null, kind: `run.${ev.status}`, detail: ev.reason ? { reason: ev.reason } : {}, iteration: ev.iteration });
        }
        // An ended run needs no trainer: its RuntimeGenerator draws from its checkpoint in another process.
        if (TERMINAL.has(ev.status)) void this.release(runId);
        return;
      }
      case "epoch":
        live.imagesPerSec = ev.imagesPerSec;
        return;
      case "sampleGrid":
        await this.store.saveGrid(runId, { epoch: ev.epoch, iteration: ev.iteration, png: ev.png, rows: ev.rows, cols: ev.cols });
        this.deps.broadcaster.grid(live.sessionId, { runId, epoch: ev.epoch, iteration: ev.iteration, url: gridUrl(runId, ev.epoch) });
        return;
      case "checkpoint":
        await this.store.saveCheckpoint(runId, { kind: ev.kind, epoch: ev.epoch, iteration: ev.iteration, dir: ev.dir, bytes: ev.bytes });
        return;
      case "control": {
        const c = ev.change;
        const key = c.kind === "lrMultiplier" ? `lr:${c.scope}/${c.param}=${c.to}` : `opt:${c.network}`;
        const queue = live.changes.get(key);
        const userId = queue?.shift() ?? null;
        if (c.kind === "lrMultiplier") (live.lrMultipliers[c.scope] ??= {})[c.param] = c.to;
        await this.activity({
          sessionId: live.sessionId,
          runId,
          userId,
          kind: c.kind === "lrMultiplier" ? "control.lrMultiplier" : "control.optimizer",
          detail: { ...c },
          iteration: ev.iteration,
        });
        return;
      }
      case "diagnostics": {
        const iteration = ev.iteration ?? 0;
        const alarms = ev.alarms.map(({ rule, epoch, message }) => ({ rule, epoch, message }));
        await this.store.saveDiagnostics(runId, { epoch: ev.epoch, iteration, metrics: ev.metrics, alarms: ev.alarms });
        this.deps.broadcaster.diagnostics(live.sessionId, { runId, epoch: ev.epoch, iteration, metrics: ev.metrics, alarms });
        if (alarms.length === 0) return;
        const session = await this.store.getSession(live.sessionId);
        const pause = session?.pauseOnCollapse === true;
        await this.activity({ sessionId: live.sessionId, runId, userId: null, kind: "collapse.alarm", detail: { alarms, pausing: pause }, iteration });
        if (pause) {
          live.requested.set("pause", null);
          live.process.pause();
        }
        return;
      }
      case "error":
        await this.activity({ sessionId: live.sessionId, runId, userId: null, kind: "run.error", detail: { message: ev.message }, iteration: ev.iteration });
        return;
    }
  }

  private requireLive(runId: string): Live {
    const live = this.live.get(runId);
    if (!live) throw new RunError("CONFLICT", "this run is not training now: start or resume it first");
    return live;
  }

  pause(runId: string, userId: string): void {
    const live = this.requireLive(runId);
    live.requested.set("pause", userId);
    live.process.pause();
  }

  resume(runId: string, userId: string): void {
    const live = this.requireLive(runId);
    live.requested.set("resume", userId);
    live.process.resume();
  }

  stop(runId: string, userId: string): void {
    const live = this.requireLive(runId);
    live.requested.set("stop", userId);
    live.process.stop();
  }

  private remember(live: Live, key: string, userId: string): void {
    const q = live.changes.get(key) ?? [];
    q.push(userId);
    live.changes.set(key, q);
  }

  async setLrMultiplier(runId: string, userId: string, scope: string, param: string, value: number): Promise<void> {
    const live = this.requireLive(runId);
    const key = `lr:${scope}/${param}=${value}`;
    this.remember(live, key, userId);
    try {
      await live.process.setLrMultiplier(scope, param, value);
    } catch (e) {
      live.changes.get(key)?.pop();
      throw asRunError(e);
    }
  }

  /** Freezes (every multiplier 0) or unfreezes (1) every parameter of the generator or the discriminator. */
  async setPartFrozen(runId: string, userId: string, part: "generator" | "discriminator", frozen: boolean): Promise<number> {
    const live = this.requireLive(runId);
    let changed = 0;
    for (const { scope } of live.scopes.filter((s) => s.part === part)) {
      for (const param of PARAMS) {
        if (live.lrMultipliers[scope]?.[param] === undefined) continue;
        await this.setLrMultiplier(runId, userId, scope, param, frozen ? 0 : 1);
        changed++;
      }
    }
    return changed;
  }

  async setAlpha(runId: string, userId: string, network: "Generator" | "DiscriminatorFake" | "DiscriminatorReal", alpha: number): Promise<void> {
    const live = this.requireLive(runId);
    const key = `opt:${network}`;
    this.remember(live, key, userId);
    try {
      await live.process.setOptimizer(network, { alpha });
    } catch (e) {
      live.changes.get(key)?.pop();
      throw asRunError(e);
    }
  }

  /**
   * RuntimeGenerator, in the run's generator process, from the newest weights its trainer wrote (a snapshot every
   * couple of seconds while it trains, else its latest checkpoint): requests never wait for a training step.
   */
  async generate(runId: string, req: { label: number; seed: number; count?: number; seedB?: number }): Promise<GenerateReply> {
    const run = await this.getRun(runId);
    try {
      return await this.deps.generators.generate(runId, run.outDir, req);
    } catch (e) {
      const err = e as GeneratorError;
      if (err.code === "BAD_REQUEST") throw new RunError("BAD_REQUEST", err.message);
      if (err.code === "NO_WEIGHTS") throw new RunError("CONFLICT", "this run has no weights yet: start it and wait a few seconds");
      throw new RunError("UNAVAILABLE", err.message);
    }
  }

  /** What a late joiner needs: the run's state, every loss point and every grid so far. */
  async history(runId: string): Promise<RunHistory> {
    const run = await this.getRun(runId);
    const live = this.live.get(runId);
    if (live) await live.flushing;
    const losses = (await this.store.metrics(runId, {})).map(({ iteration, epoch, gReal, fake, real }) => ({ iteration, epoch, gReal, fake, real }));
    const grids = (await this.store.listGrids(runId)).map((g) => ({ epoch: g.epoch, iteration: g.iteration, url: gridUrl(runId, g.epoch) }));
    const diagnostics = (await this.store.listDiagnostics(runId)).map((d) => ({ runId, ...d, alarms: d.alarms.map(({ rule, epoch, message }) => ({ rule, epoch, message })) }));
    return {
      run: { ...statusOf(run), name: run.name, totalIterations: run.totalIterations ?? null, iterationsPerEpoch: run.iterationsPerEpoch ?? null },
      losses,
      grids,
      diagnostics,
      lastIteration: losses.length ? losses[losses.length - 1]!.iteration : null,
    };
  }

  /** The LRateMultipliers and scopes the live trainer reported (null when no process runs). */
  parameters(runId: string) {
    const live = this.live.get(runId);
    return live ? { scopes: live.scopes, lrMultipliers: live.lrMultipliers } : null;
  }

  liveCount(): number {
    return this.live.size;
  }

  private async release(runId: string): Promise<void> {
    const live = this.live.get(runId);
    if (!live) return;
    this.live.delete(runId);
    await live.process.shutdown(5_000).catch(() => undefined);
  }

  /** Graceful shutdown: every trainer pauses, writes a checkpoint and exits; buffered losses are written. */
  async shutdown(timeoutMs = 15_000): Promise<void> {
    const all = [...this.live.entries()];
    await Promise.all(
      all.map(async ([runId, live]) => {
        await live.process.shutdown(timeoutMs).catch(() => undefined);
        await this.flush(runId, live).catch(() => undefined);
      }),
    );
  }
}

function statusOf(run: { id: string; status: string; iteration: number; epoch: number; backend: string | null; failureReason: string | null }): RunStatusPush {
  return { runId: run.id, status: run.status, iteration: run.iteration, epoch: run.epoch, backend: run.backend, reason: run.failureReason };
}

export function toActivityPush(a: {
  id: string;
  sessionId: string;
  runId: string | null;
  userId: string | null;
  userName?: string | null;
  kind: string;
  detail: Record<string, unknown>;
  iteration: number | null;
  createdAt: Date;
}): ActivityPush {
  return { ...a, userName: a.userName ?? null, createdAt: a.createdAt.toISOString() };
}

function asRunError(e: unknown): RunError {
  if (e instanceof RunError) return e;
  const err = e as Error & { code?: string };
  if (err.code === "BAD_REQUEST") return new RunError("BAD_REQUEST", err.message);
  if (err.code === "EXITED" || err.code === "TIMEOUT" || err.code === "NOT_READY") return new RunError("UNAVAILABLE", err.message);
  return new RunError("UNAVAILABLE", err.message ?? String(e));
}
