/**
 * Runs: the one place that turns people's controls into trainer commands and trainer events into database rows
 * and pushes. Every push happens after its write succeeded, so what a viewer saw live is also in the history.
 * The engine is reached only through trainer processes (server/trainer); this file never trains.
 */
import path from "node:path";
import { ConfigError, parseConfig, type Config, type ConfigInput } from "../../lib/gan/config";
import {
  checkConfigBeforeResolve,
  checkConfigLimits,
  DEFAULT_CONFIG_LIMITS,
  describeLimitIssues,
  resolveConfigSpec,
  type ConfigLimits,
} from "../../lib/gan/limits";
import type { ResolvedSpec } from "../../lib/gan/spec";
import type { GenerateReply, TrainerEventMessage } from "../../lib/protocol/trainer";
import type { ActivityPush, DiagnosticsPush, GridPush, LossPage, LossPoint, RunHistory, RunStatusPush } from "../../lib/protocol/socket";
import type { RunStatus, Store } from "../db/store";
import type { DiskGuard } from "../disk";
import { DEFAULT_LIMITS, oneAtATime, QuotaError, type Limits } from "../limits";
import type { GeneratorError, GeneratorPool } from "../trainer/generator-pool";
import type { RunProcess, RunProcessEvent, TrainerSupervisor } from "../trainer/supervisor";
import { OverviewCache } from "./overview";
import { TrainerSlots, type QueueEntry, type Slot } from "./trainer-slots";
import { WriteQueue } from "./write-queue";

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
  /** Its place among the server's trainer processes; freed once, when the process exits or is released. */
  slot: Slot;
  sessionId: string;
  buffer: LossPoint[];
  timer: NodeJS.Timeout | null;
  lastFlush: number;
  /** The run's database writes in order, each then pushed; held and retried while storage fails. */
  writes: WriteQueue;
  /** Why the server paused this run (storage failing, disk full or over quota), shown until it runs again. */
  pauseReason: string | null;
  createdById: string;
  /** Who asked for the next pause/resume/stop, reported when the trainer confirms it with its iteration. */
  requested: Map<string, string | null>;
  /** Who asked for each LRateMultiplier/optimizer change, by a key of what changes, in order. */
  changes: Map<string, (string | null)[]>;
  scopes: { scope: string; part: "generator" | "discriminator" }[];
  lrMultipliers: Record<string, Record<string, number>>;
  imagesPerSec?: number;
}

/** A run waiting for a trainer slot: what it was before (a stop while queued restores it) and its status push. */
interface Queued {
  previous: { status: RunStatus; failureReason: string | null };
  push: RunStatusPush;
  /** The "queued" status written and pushed; whatever follows (start, cancel) waits for it. */
  written: Promise<void>;
  /** The position last pushed to the session (null before the first push). */
  pushedPosition: number | null;
}

export class RunService {
  private readonly live = new Map<string, Live>();
  /** Trainer processes alive (server-wide, per session, per user) and the FIFO queue of runs waiting for one. */
  private readonly slots: TrainerSlots<Queued>;
  private readonly limits: Limits;
  private closing = false;
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
      datasets?: { checkForRun(sessionId: string, config: Config): Promise<void>; specForRun?(config: Config): Promise<ResolvedSpec> };
      /** What a Config may ask for (BatchSize, layers, parameters, activation memory, grid); DEFAULT_CONFIG_LIMITS when not given. */
      configLimits?: ConfigLimits;
      /** Quotas on runs and trainer processes (server/limits.ts); the defaults when not given. */
      limits?: Limits;
      /**
       * Run history's bounds (GAN_HISTORY_PAGE_POINTS, GAN_HISTORY_OVERVIEW_POINTS): points per full-resolution page
       * (and in a long run's tail), buckets in its overview. The defaults of server/limits.ts when not given.
       */
      history?: { pagePoints: number; overviewPoints: number };
      /** Disk quotas and free space: a start is refused, a training run paused, when there is no room. */
      disk?: DiskGuard;
    },
  ) {
    this.limits = deps.limits ?? DEFAULT_LIMITS;
    this.slots = new TrainerSlots<Queued>(this.limits, () => this.pump());
  }

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
    // This server's limits, before anything allocates: BatchSize and layer count first (from array lengths, before
    // the spec is even parsed), then parameters, activation memory and grid size on the spec resolved for the data.
    const configLimits = this.deps.configLimits ?? DEFAULT_CONFIG_LIMITS;
    const early = checkConfigBeforeResolve(input.config, configLimits);
    if (early.length > 0) throw new RunError("BAD_REQUEST", describeLimitIssues(early), early);
    let config: Config;
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
    const over = checkConfigLimits(config, await (this.deps.datasets?.specForRun?.(config) ?? resolveConfigSpec(config)), configLimits);
    if (over.length > 0) throw new RunError("BAD_REQUEST", describeLimitIssues(over), over);
    const id = crypto.randomUUID();
    // The counts and the insert they allow, one creation at a time.
    const run = await oneAtATime("runs.create", async () => {
      await this.checkRunQuotas(input.sessionId, input.userId);
      return this.store.createRun({
        sessionId: input.sessionId,
        createdById: input.userId,
        name: input.name,
        config,
        datasetRef: config.dataset,
        outDir: path.join(this.deps.dataDir, "runs", id),
        id,
      });
    });
    await this.activity({ sessionId: input.sessionId, runId: run.id, userId: input.userId, kind: "run.created", detail: { name: input.name, config } });
    return run;
  }

  private async getRun(runId: string) {
    const run = await this.store.getRun(runId);
    if (!run) throw new RunError("NOT_FOUND", `run ${runId} does not exist`);
    return run;
  }

  /** Refuses (QuotaError) a new run past the session's or the user's number of runs. */
  private async checkRunQuotas(sessionId: string, userId: string): Promise<void> {
    const perSession = this.limits.GAN_MAX_RUNS_PER_SESSION;
    const inSession = await this.store.countRuns({ sessionId });
    if (inSession >= perSession) {
      throw new QuotaError(`this session already holds ${inSession} runs, the most one session may hold: start a new session for more`, {
        name: "runs",
        limit: perSession,
        used: inSession,
      });
    }
    const perUser = this.limits.GAN_MAX_RUNS_PER_USER;
    const byUser = await this.store.countRuns({ createdById: userId });
    if (byUser >= perUser) {
      throw new QuotaError(`you have created ${byUser} runs, the most one person may create on this server`, { name: "runs", limit: perUser, used: byUser });
    }
  }

  /**
   * Starts a run, or continues a stopped / failed / interrupted one from its latest checkpoint. When every trainer
   * slot of the server is taken, the run is queued instead (status "queued", `queuePosition` in its pushes) and starts
   * by itself, in order, when one frees. Refused with a QuotaError past the session's or the user's share of live and
   * queued runs, or when the queue is full.
   */
  async start(runId: string, userId: string | null): Promise<{ queuePosition: number | null }> {
    this.refuseIfQueuedOrStarting(runId);
    if (userId) await this.deps.disk?.checkRoom(userId, 0, "train a run");
    const current = this.live.get(runId);
    if (current) {
      // A trainer that has not reported a status yet is still building (the run shows the status it had until then).
      if (current.process.status === null) throw new RunError("CONFLICT", "this run is starting: its trainer is being built");
      const status = (await this.getRun(runId)).status;
      if (!TERMINAL.has(status)) throw new RunError("CONFLICT", `run ${runId} is already ${status}`);
      await this.release(runId);
    }
    const run = await this.getRun(runId);
    if (run.status === "completed") throw new RunError("CONFLICT", "this run has completed: start a new run to train further");
    const checkpoint = run.status === "idle" ? null : await this.store.latestCheckpoint(runId, "latest");
    if (run.status !== "idle" && !checkpoint) throw new RunError("CONFLICT", "this run has no checkpoint yet: start a new run");
    if (this.closing) throw new RunError("UNAVAILABLE", "the server is shutting down: start the run again once it is back");
    // From here to the spawn (or the queue) nothing waits: the counts cannot change in between.
    this.refuseIfQueuedOrStarting(runId);
    if (this.live.has(runId)) throw new RunError("CONFLICT", "this run was started meanwhile");
    const queued: Queued = {
      previous: { status: run.status, failureReason: run.failureReason },
      push: statusOf(run),
      written: Promise.resolve(),
      pushedPosition: null,
    };
    const admitted = this.slots.admit({ runId, sessionId: run.sessionId, userId }, queued);
    if ("slot" in admitted) {
      try {
        this.spawn(run, checkpoint ? { resumeFrom: checkpoint.dir } : {}, admitted.slot);
      } catch (e) {
        admitted.slot.free();
        throw e;
      }
      await this.activity({
        sessionId: run.sessionId,
        runId,
        userId,
        kind: checkpoint ? "run.resumedFromCheckpoint" : "run.started",
        detail: checkpoint ? { checkpointIteration: checkpoint.iteration } : {},
        iteration: checkpoint?.iteration ?? 0,
      });
      return { queuePosition: null };
    }
    // Queued: written, then pushed with the position it has by then; a start or a stop of it waits for this.
    queued.written = this.store.updateRun(runId, { status: "queued", failureReason: null }).then((saved) => {
      queued.push = statusOf(saved);
      const position = this.slots.position(runId);
      if (position === null) return; // already out of the queue again: what follows pushes its status
      queued.pushedPosition = position;
      this.deps.broadcaster.status(run.sessionId, { ...queued.push, queuePosition: position });
    });
    try {
      await queued.written;
    } catch (e) {
      if (this.slots.cancel(runId)) this.pushPositions();
      throw e;
    }
    const position = this.slots.position(runId);
    await this.activity({
      sessionId: run.sessionId,
      runId,
      userId,
      kind: "run.queued",
      detail: { ahead: position ?? 0, slots: this.slots.capacity },
      iteration: run.iteration,
    });
    return { queuePosition: position };
  }

  /** CONFLICT for a run that waits in the queue, or whose process is starting or ending (it holds a slot). */
  private refuseIfQueuedOrStarting(runId: string): void {
    const position = this.slots.position(runId);
    if (position !== null) throw new RunError("CONFLICT", `this run already waits in the trainer queue (${ahead(position)}): it starts by itself`);
    if (!this.live.has(runId) && this.slots.isLive(runId))
      throw new RunError("CONFLICT", "this run's trainer process is starting or shutting down: try again in a moment");
  }

  /** A slot freed: the queue's head starts in it (and the next, while slots are free), then every position moves. */
  private pump(): void {
    if (this.closing) return;
    let moved = false;
    for (let n = this.slots.next(); n; n = this.slots.next()) {
      moved = true;
      void this.startQueued(n.entry, n.slot);
    }
    if (moved) this.pushPositions();
  }

  /** Pushes the position of every queued run whose position changed since its last push. */
  private pushPositions(): void {
    this.slots.queued().forEach((entry, position) => {
      const q = entry.payload;
      if (q.pushedPosition === null || q.pushedPosition === position) return; // not announced yet, or unchanged
      q.pushedPosition = position;
      this.deps.broadcaster.status(entry.sessionId, { ...q.push, queuePosition: position });
    });
  }

  /** Starts a run taken from the queue in the slot it was given; the run goes back to its previous status if it cannot. */
  private async startQueued(entry: QueueEntry<Queued>, slot: Slot): Promise<void> {
    const { runId, sessionId, userId, payload: q } = entry;
    let spawned = false;
    try {
      await q.written;
      const run = await this.store.getRun(runId);
      if (!run) {
        slot.free();
        return;
      }
      const checkpoint = q.previous.status === "idle" ? null : await this.store.latestCheckpoint(runId, "latest");
      if (this.closing) {
        slot.free();
        await this.store.updateRun(runId, { status: q.previous.status, failureReason: q.previous.failureReason });
        return;
      }
      // Back to what it was (as after a direct start, the trainer's first status says "running"), then the process.
      const saved = await this.store.updateRun(runId, { status: q.previous.status, failureReason: q.previous.failureReason });
      this.spawn(run, checkpoint ? { resumeFrom: checkpoint.dir } : {}, slot);
      spawned = true;
      this.deps.broadcaster.status(sessionId, statusOf(saved));
      await this.activity({
        sessionId,
        runId,
        userId,
        kind: checkpoint ? "run.resumedFromCheckpoint" : "run.started",
        detail: { fromQueue: true, ...(checkpoint ? { checkpointIteration: checkpoint.iteration } : {}) },
        iteration: checkpoint?.iteration ?? 0,
      });
    } catch (e) {
      console.error(`run ${runId}: could not start from the trainer queue: ${(e as Error).message}`);
      if (spawned) return;
      slot.free();
      const reason = `could not start from the trainer queue: ${(e as Error).message}`;
      const saved = await this.store
        .updateRun(runId, { status: q.previous.status, failureReason: q.previous.status === "idle" ? null : reason })
        .catch(() => null);
      if (saved) this.deps.broadcaster.status(sessionId, { ...statusOf(saved), reason });
    }
  }

  /** A stop of a queued run: it leaves the queue and gets back the status it had, and everyone behind it moves up. */
  private async leaveQueue(entry: QueueEntry<Queued>, userId: string | null): Promise<void> {
    this.pushPositions();
    const q = entry.payload;
    await q.written.catch(() => undefined);
    const saved = await this.store.updateRun(entry.runId, { status: q.previous.status, failureReason: q.previous.failureReason });
    this.deps.broadcaster.status(entry.sessionId, statusOf(saved));
    await this.activity({
      sessionId: entry.sessionId,
      runId: entry.runId,
      userId,
      kind: "run.unqueued",
      detail: { status: q.previous.status },
      iteration: saved.iteration,
    });
  }

  private spawn(run: { id: string; sessionId: string; createdById: string; config: unknown; outDir: string }, opts: { resumeFrom?: string }, slot: Slot): Live {
    const process = this.deps.supervisor.start({
      runId: run.id,
      config: parseConfig(run.config),
      outDir: run.outDir,
      ...(opts.resumeFrom ? { resumeFrom: opts.resumeFrom } : {}),
      ...(this.deps.backend ? { backend: this.deps.backend } : {}),
    });
    const live: Live = {
      process,
      slot,
      sessionId: run.sessionId,
      buffer: [],
      timer: null,
      lastFlush: 0,
      writes: new WriteQueue({
        label: `run ${run.id}`,
        onTrouble: (reason) => this.pauseFor(run.id, live, `${reason}: paused until storage works again; nothing it reported is lost`),
        onRecovered: () => this.storageRecovered(run.id, live),
      }),
      pauseReason: null,
      createdById: run.createdById,
      requested: new Map(),
      changes: new Map(),
      scopes: [],
      lrMultipliers: {},
    };
    this.live.set(run.id, live);
    process.on((e) => {
      // The process is gone: its slot frees now (once), so the queue moves before the run's rows are written.
      if (e.type === "exit") live.slot.free();
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

  /**
   * Queues the buffered losses as one write (one transaction), pushed once written; writes and pushes keep their
   * order. Resolves when the write is done, or at once while storage fails (the points wait in the queue).
   */
  private flush(runId: string, live: Live): Promise<void> {
    // A diverging run reports non-finite losses once before it fails; its failure says so, SQLite cannot store NaN.
    const points = live.buffer.splice(0).filter((p) => Number.isFinite(p.gReal + p.fake + p.real));
    if (points.length > 0) {
      const last = points[points.length - 1]!;
      live.writes.push(
        "losses",
        async () => {
          await this.store.appendMetrics(
            runId,
            points.map((p) => ({ ...p, msPerIter: (p as LossPoint & { msPerIter?: number }).msPerIter ?? 0 })),
          );
          await this.store.updateRun(runId, { iteration: last.iteration + 1, epoch: last.epoch });
        },
        () => {
          // A resumed run may write at or before what a cached overview read: it reads those buckets again.
          this.overviewCache?.rewind(runId, points[0]!.iteration);
          this.deps.broadcaster.losses(
            live.sessionId,
            runId,
            points.map(({ iteration, epoch, gReal, fake, real, at }) => ({ iteration, epoch, gReal, fake, real, ...(at ? { at } : {}) })),
          );
        },
      );
    }
    return live.writes.settled();
  }

  /**
   * The server pauses a run for a reason of its own (storage failing, the disk nearly full, the creator's disk
   * quota used up): everyone sees the run paused with the reason at once, even if the database cannot record it;
   * the reason stays on the run until it trains again.
   */
  private pauseFor(runId: string, live: Live, reason: string): void {
    if (live.pauseReason) return;
    live.pauseReason = reason;
    live.requested.set("pause", null);
    live.process.pause();
    void this.store
      .getRun(runId)
      .then((run) => run && this.deps.broadcaster.status(live.sessionId, { ...this.statusPush(run), status: "paused", reason }))
      .catch(() => this.deps.broadcaster.status(live.sessionId, { runId, status: "paused", iteration: 0, epoch: 0, backend: null, reason }));
  }

  /** Storage works again: what was held is written (the queue drained); the run stays paused until someone resumes it. */
  private storageRecovered(runId: string, live: Live): void {
    const reason = `${live.pauseReason ?? "storage failed"}; storage works again: resume the run`;
    live.pauseReason = reason;
    live.writes.push(
      "status",
      () => this.store.updateRun(runId, { failureReason: reason }),
      () => void this.store.getRun(runId).then((run) => run && this.deps.broadcaster.status(live.sessionId, this.statusPush(run))),
    );
  }

  /** Pauses every training run of a user over their disk quota, or every run while the disk is nearly full. */
  private async checkDisk(runId: string, live: Live): Promise<void> {
    const disk = this.deps.disk;
    if (!disk || live.pauseReason || this.closing) return;
    const low = await disk.lowDiskReason();
    if (low) return this.pauseFor(runId, live, `${low}: paused`);
    const usage = await disk.usage(live.createdById);
    if (usage.total > disk.quotaBytes) {
      this.pauseFor(
        runId,
        live,
        `the files of this run's creator take ${Math.round(usage.total / 2 ** 20)} MiB, over their ${Math.round(disk.quotaBytes / 2 ** 20)} MiB disk quota: paused; delete data sets or runs to resume`,
      );
    }
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
        await this.activity({
          sessionId: live.sessionId,
          runId,
          userId: null,
          kind: "run.failed",
          detail: { reason: e.exit.reason },
          iteration: run.iteration,
        });
      }
      return;
    }
    await this.onTrainerEvent(runId, live, e.event);
  }

  private async onTrainerEvent(runId: string, live: Live, ev: TrainerEventMessage): Promise<void> {
    switch (ev.type) {
      case "losses":
        live.buffer.push({
          iteration: ev.iteration,
          epoch: ev.epoch,
          gReal: ev.losses.GReal,
          fake: ev.losses.Fake,
          real: ev.losses.Real,
          msPerIter: ev.msPerIter,
          at: Date.now(),
        } as LossPoint);
        this.scheduleFlush(runId, live);
        return;
      case "status": {
        await this.flush(runId, live);
        if (ev.status === "running") live.pauseReason = null;
        const reason = ev.reason ?? (ev.status === "paused" ? live.pauseReason : null);
        await new Promise<void>((written) => {
          live.writes.push(
            "status",
            async () => {
              await this.store.updateRun(runId, {
                status: ev.status,
                iteration: ev.iteration,
                epoch: ev.epoch,
                backend: ev.backend,
                failureReason: reason ?? null,
              });
              const run = await this.getRun(runId);
              this.deps.broadcaster.status(live.sessionId, { ...this.statusPush(run), ...(live.imagesPerSec ? { imagesPerSec: live.imagesPerSec } : {}) });
            },
            written,
          );
          // While storage fails, the status waits in the queue; what follows here needs the database too.
          if (live.writes.trouble) written();
        });
        if (live.writes.trouble) return;
        const kinds: Record<string, string> = { paused: "pause", running: "resume", stopped: "stop" };
        const kind = kinds[ev.status];
        if (kind && live.requested.has(kind)) {
          const userId = live.requested.get(kind) ?? null;
          live.requested.delete(kind);
          await this.activity({ sessionId: live.sessionId, runId, userId, kind: `run.${kind}`, detail: {}, iteration: ev.iteration });
        }
        if (ev.status === "completed" || ev.status === "failed") {
          await this.activity({
            sessionId: live.sessionId,
            runId,
            userId: null,
            kind: `run.${ev.status}`,
            detail: ev.reason ? { reason: ev.reason } : {},
            iteration: ev.iteration,
          });
        }
        // An ended run needs no trainer: its RuntimeGenerator draws from its checkpoint in another process.
        if (TERMINAL.has(ev.status)) void this.release(runId);
        return;
      }
      case "epoch":
        live.imagesPerSec = ev.imagesPerSec;
        return;
      case "sampleGrid":
        live.writes.push(
          "sample grid",
          () => this.store.saveGrid(runId, { epoch: ev.epoch, iteration: ev.iteration, png: ev.png, rows: ev.rows, cols: ev.cols }),
          () => this.deps.broadcaster.grid(live.sessionId, { runId, epoch: ev.epoch, iteration: ev.iteration, url: gridUrl(runId, ev.epoch) }),
        );
        // Once an epoch: the disk's free space and the creator's quota.
        await this.checkDisk(runId, live);
        return;
      case "checkpoint":
        live.writes.push("checkpoint", () =>
          this.store.saveCheckpoint(runId, { kind: ev.kind, epoch: ev.epoch, iteration: ev.iteration, dir: ev.dir, bytes: ev.bytes }),
        );
        return;
      case "control": {
        const c = ev.change;
        const key = c.kind === "lrMultiplier" ? `lr:${c.scope}/${c.param}=${c.to}` : `opt:${c.network}`;
        const queue = live.changes.get(key);
        const userId = queue?.shift() ?? null;
        if (c.kind === "lrMultiplier") {
          live.lrMultipliers[c.scope] ??= {};
          live.lrMultipliers[c.scope]![c.param] = c.to;
        }
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
        live.writes.push(
          "diagnostics",
          () => this.store.saveDiagnostics(runId, { epoch: ev.epoch, iteration, metrics: ev.metrics, alarms: ev.alarms }),
          () => this.deps.broadcaster.diagnostics(live.sessionId, { runId, epoch: ev.epoch, iteration, metrics: ev.metrics, alarms }),
        );
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
    if (live) return live;
    const position = this.slots.position(runId);
    if (position !== null)
      throw new RunError("CONFLICT", `this run waits in the trainer queue (${ahead(position)}): it starts by itself, or stop it to leave the queue`);
    if (this.slots.isLive(runId)) throw new RunError("CONFLICT", "this run's trainer process is starting or shutting down: try again in a moment");
    throw new RunError("CONFLICT", "this run is not training now: start or resume it first");
  }

  pause(runId: string, userId: string): void {
    const live = this.requireLive(runId);
    live.requested.set("pause", userId);
    live.process.pause();
  }

  resume(runId: string, userId: string): void {
    const live = this.requireLive(runId);
    if (live.writes.trouble) throw new RunError("CONFLICT", `${live.writes.trouble}: the run can resume once storage works again`);
    live.requested.set("resume", userId);
    live.process.resume();
  }

  /** Stops a training run; a queued run leaves the queue and gets back the status it had before. */
  async stop(runId: string, userId: string): Promise<void> {
    const entry = this.slots.cancel(runId);
    if (entry) return this.leaveQueue(entry, userId);
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
      if (e instanceof QuotaError) throw e;
      const err = e as GeneratorError;
      if (err.code === "BAD_REQUEST") throw new RunError("BAD_REQUEST", err.message);
      if (err.code === "NO_WEIGHTS") throw new RunError("CONFLICT", "this run has no weights yet: start it and wait a few seconds");
      throw new RunError("UNAVAILABLE", err.message);
    }
  }

  private overviewCache: OverviewCache | null = null;

  private get historyLimits(): { pagePoints: number; overviewPoints: number } {
    return this.deps.history ?? { pagePoints: DEFAULT_LIMITS.GAN_HISTORY_PAGE_POINTS, overviewPoints: DEFAULT_LIMITS.GAN_HISTORY_OVERVIEW_POINTS };
  }

  /**
   * What a late joiner needs: the run's state, its losses, every grid and diagnostics so far. Bounded whatever the
   * run's length: a run of at most `pagePoints` points comes whole (overview null); a longer one as its overview
   * (at most `overviewPoints` buckets, cached per run: server/runs/overview.ts) and its last `pagePoints` points.
   */
  async history(runId: string): Promise<RunHistory> {
    const run = await this.getRun(runId);
    const live = this.live.get(runId);
    if (live) await live.writes.settled();
    const { pagePoints, overviewPoints } = this.historyLimits;
    const rows = await this.store.metricsTail(runId, pagePoints + 1);
    const whole = rows.length <= pagePoints;
    const losses = (whole ? rows : rows.slice(1)).map(({ iteration, epoch, gReal, fake, real }) => ({ iteration, epoch, gReal, fake, real }));
    const lastIteration = losses.length ? losses[losses.length - 1]!.iteration : null;
    this.overviewCache ??= new OverviewCache(this.store, { maxPoints: overviewPoints });
    const overview = whole || lastIteration === null ? null : await this.overviewCache.overview(runId, lastIteration);
    const grids = (await this.store.listGrids(runId)).map((g) => ({ epoch: g.epoch, iteration: g.iteration, url: gridUrl(runId, g.epoch) }));
    const diagnostics = (await this.store.listDiagnostics(runId)).map((d) => ({
      runId,
      ...d,
      alarms: d.alarms.map(({ rule, epoch, message }) => ({ rule, epoch, message })),
    }));
    return {
      run: { ...this.statusPush(run), name: run.name, totalIterations: run.totalIterations ?? null, iterationsPerEpoch: run.iterationsPerEpoch ?? null },
      overview,
      losses,
      grids,
      diagnostics,
      lastIteration,
    };
  }

  /** Full-resolution points of an iteration range (both ends inclusive), at most `pagePoints`, with the next page's start. */
  async historyRange(runId: string, fromIteration: number, toIteration: number): Promise<LossPage> {
    await this.getRun(runId);
    if (toIteration < fromIteration) throw new RunError("BAD_REQUEST", "toIteration must not be before fromIteration");
    const page = await this.store.metricsRange(runId, { fromIteration, toIteration, limit: this.historyLimits.pagePoints });
    return { points: page.points.map(({ iteration, epoch, gReal, fake, real }) => ({ iteration, epoch, gReal, fake, real })), nextFrom: page.nextFrom };
  }

  /** The LRateMultipliers and scopes the live trainer reported (null when no process runs). */
  parameters(runId: string) {
    const live = this.live.get(runId);
    return live ? { scopes: live.scopes, lrMultipliers: live.lrMultipliers } : null;
  }

  /** Trainer processes alive now (slots held: a process counts until it has exited or was released). */
  liveCount(): number {
    return this.slots.liveCount;
  }

  /** Runs waiting in the trainer queue. */
  queuedCount(): number {
    return this.slots.queuedCount;
  }

  /** A run's status as pushed, with its place in the queue while it waits. */
  private statusPush(run: Parameters<typeof statusOf>[0]): RunStatusPush {
    const position = this.slots.position(run.id);
    return { ...statusOf(run), ...(position !== null ? { queuePosition: position } : {}) };
  }

  /** Ends a run's trainer process (checkpoint, exit); its slot frees when the process has gone. */
  private async release(runId: string): Promise<void> {
    const live = this.live.get(runId);
    if (!live) return;
    this.live.delete(runId);
    await live.process.shutdown(5_000).catch(() => undefined);
    live.slot.free();
  }

  /**
   * Graceful shutdown: queued runs get back the status they had (nothing new starts), every trainer pauses, writes
   * a checkpoint and exits; buffered losses are written.
   */
  async shutdown(timeoutMs = 15_000): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.drain().map(async ({ runId, payload: q }) => {
        await q.written.catch(() => undefined);
        await this.store.updateRun(runId, { status: q.previous.status, failureReason: q.previous.failureReason }).catch(() => undefined);
      }),
    );
    const all = [...this.live.entries()];
    await Promise.all(
      all.map(async ([runId, live]) => {
        await live.process.shutdown(timeoutMs).catch(() => undefined);
        await this.flush(runId, live).catch(() => undefined);
        await live.writes.close();
      }),
    );
  }
}

const ahead = (n: number) => (n === 0 ? "next in line" : `${n} ahead of it`);

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
