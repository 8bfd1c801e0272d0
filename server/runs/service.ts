/**
 * Runs: the one place that turns people's controls into trainer commands and trainer events into database rows
 * and pushes. Every push happens after its write succeeded, so what a viewer saw live is also in the history.
 * The engine is reached only through trainer processes (server/trainer); nothing here trains.
 *
 * RunService is the entry the rest of the server (and the tests) call; each job has its file:
 *   context.ts        what the parts share: dependencies, live trainers, trainer slots, activity (server/activity/log.ts),
 *                     parameter states (parameters.ts), status pushes, release
 *   create.ts         a new run from a Config: limits, data set, quotas
 *   launch.ts         a run's trainer process started in its slot (its Live record, WriteQueue, LossBuffer)
 *   queue.ts          the trainer queue: queued, started by itself when a slot frees, positions pushed, left
 *   controls.ts       pause, resume, stop, LRateMultipliers, freeze, α
 *   events.ts         trainer events projected into rows and pushes
 *   losses.ts         loss points buffered, written in batches and pushed (writes in order: write-queue.ts)
 *   server-pauses.ts  the server's own pauses: storage failing, disk full, over quota
 *   history.ts        history, historyRange and the overview cache (overview.ts)
 *   parameters.ts     each run's parameter state in memory (and the `runs.parameters` read model)
 *   pushes.ts, errors.ts  the Broadcaster and push shapes; RunError
 */
import type { ConfigInput } from "../../lib/gan/config";
import type { ParameterName, PartName, TrainingNetworkName } from "../../lib/gan/vocabulary";
import type { ParameterState } from "../../lib/protocol/parameters";
import type { GenerateReply } from "../../lib/protocol/trainer";
import type { LossPage, RunHistory } from "../../lib/protocol/socket";
import type { RemoteControl, RemoteRuns } from "../cluster/remote-runs";
import { QuotaError } from "../limits";
import type { GeneratorError } from "../trainer/generator-pool";
import { type Live, type Queued, RunContext, type RunServiceDeps, TERMINAL } from "./context";
import { RunControls } from "./controls";
import { RunCreation } from "./create";
import { RunError } from "./errors";
import { TrainerEvents } from "./events";
import { RunHistoryReader } from "./history";
import { TrainerLauncher } from "./launch";
import { statusOf } from "./pushes";
import { TrainerQueue } from "./queue";
import { ServerPauses } from "./server-pauses";

export { type RunErrorCode, RunError } from "./errors";
export { type Broadcaster, gridUrl } from "./pushes";

export class RunService {
  private readonly ctx: RunContext;
  /** The live trainer processes by run (the context's map). */
  private readonly live: Map<string, Live>;
  private readonly creation: RunCreation;
  private readonly launcher: TrainerLauncher;
  private readonly queue: TrainerQueue;
  private readonly controls: RunControls;
  private readonly reader: RunHistoryReader;
  /** The other processes of a cluster (null: this process is the whole service). */
  private remote: RemoteRuns | null = null;

  constructor(private readonly deps: RunServiceDeps) {
    this.ctx = new RunContext(deps, () => this.queue.pump());
    this.live = this.ctx.live;
    this.creation = new RunCreation(this.ctx);
    this.reader = new RunHistoryReader(this.ctx);
    const pauses = new ServerPauses(this.ctx);
    const events = new TrainerEvents(this.ctx, pauses);
    this.launcher = new TrainerLauncher(this.ctx, { events, pauses, rewind: (runId, iteration) => this.reader.rewind(runId, iteration) });
    this.queue = new TrainerQueue(this.ctx, this.launcher);
    this.controls = new RunControls(this.ctx);
  }

  /** The backend the last trainer process reported (name and what it runs on), for the health check. */
  get lastBackend(): { name: string; detail: string } | null {
    return this.ctx.lastBackend;
  }

  /** Creates a run from a Config (validated: bad fields come back with their paths). */
  createRun(input: { sessionId: string; userId: string; name: string; config: ConfigInput }) {
    return this.creation.createRun(input);
  }

  /**
   * Starts a run, or continues a stopped / failed / interrupted one from its latest checkpoint. When every trainer
   * slot of the server is taken, the run is queued instead (status "queued", `queuePosition` in its pushes) and starts
   * by itself, in order, when one frees. Refused with a QuotaError past the session's or the user's share of live and
   * queued runs, or when the queue is full.
   */
  async start(runId: string, userId: string | null): Promise<{ queuePosition: number | null }> {
    const { ctx } = this;
    this.queue.refuseIfQueuedOrStarting(runId);
    if (userId) await this.deps.disk?.checkRoom(userId, 0, "train a run");
    const current = this.live.get(runId);
    if (current) {
      // A trainer that has not reported a status yet is still building (the run shows the status it had until then).
      if (current.process.status === null) throw new RunError("CONFLICT", "this run is starting: its trainer is being built");
      const status = (await ctx.getRun(runId)).status;
      if (!TERMINAL.has(status)) throw new RunError("CONFLICT", `run ${runId} is already ${status}`);
      await ctx.release(runId);
    }
    let run = await ctx.getRun(runId);
    if (run.status === "completed") throw new RunError("CONFLICT", "this run has completed: start a new run to train further");
    if (this.deps.cluster && !this.isHere(runId) && (run.status === "running" || run.status === "paused" || run.status === "queued")) {
      // Marked active, but not by this process: alive elsewhere (refused), or its process is gone (interrupted, then resumed here).
      const owner = (await this.deps.cluster.owners([runId])).get(runId) ?? null;
      if (owner) throw new RunError("CONFLICT", `this run is ${run.status} on another process of the cluster (${owner})`);
      await this.adoptOrphans([runId]);
      run = await ctx.getRun(runId);
    }
    const checkpoint = run.status === "idle" ? null : await ctx.store.latestCheckpoint(runId, "latest");
    if (run.status !== "idle" && !checkpoint) throw new RunError("CONFLICT", "this run has no checkpoint yet: start a new run");
    if (ctx.closing) throw new RunError("UNAVAILABLE", "the server is shutting down: start the run again once it is back");
    // In a cluster the session's share counts the runs other processes train or queue for it (the database says).
    const elsewhere = this.deps.cluster
      ? (await ctx.store.listActiveRuns()).filter((r) => r.sessionId === run.sessionId && r.id !== runId && !this.isHere(r.id)).length
      : 0;
    // From here to the spawn (or the queue) nothing waits: the counts cannot change in between.
    this.queue.refuseIfQueuedOrStarting(runId);
    if (this.live.has(runId)) throw new RunError("CONFLICT", "this run was started meanwhile");
    const queued: Queued = {
      previous: { status: run.status, failureReason: run.failureReason },
      push: statusOf(run),
      written: Promise.resolve(),
      pushedPosition: null,
    };
    await this.deps.cluster?.own(runId);
    const admitted = ctx.slots.admit({ runId, sessionId: run.sessionId, userId }, queued, elsewhere);
    if (!("slot" in admitted)) return { queuePosition: await this.queue.enqueued(run, userId, queued) };
    try {
      this.launcher.spawn(run, checkpoint ? { resumeFrom: checkpoint.dir } : {}, admitted.slot);
    } catch (e) {
      admitted.slot.free();
      throw e;
    }
    await ctx.activity({
      sessionId: run.sessionId,
      runId,
      userId,
      ...(checkpoint
        ? ({ kind: "run.resumedFromCheckpoint", detail: { checkpointIteration: checkpoint.iteration } } as const)
        : ({ kind: "run.started", detail: {} } as const)),
      iteration: checkpoint?.iteration ?? 0,
    });
    return { queuePosition: null };
  }

  async pause(runId: string, userId: string): Promise<void> {
    await this.control(runId, userId, { kind: "pause" });
  }

  async resume(runId: string, userId: string): Promise<void> {
    await this.control(runId, userId, { kind: "resume" });
  }

  /** Stops a training run; a queued run leaves the queue and gets back the status it had before. */
  async stop(runId: string, userId: string): Promise<void> {
    await this.control(runId, userId, { kind: "stop" });
  }

  async setLrMultiplier(runId: string, userId: string, scope: string, param: string, value: number): Promise<void> {
    await this.control(runId, userId, { kind: "lrMultiplier", scope, param: param as ParameterName, value });
  }

  /** Freezes (every multiplier 0) or unfreezes (1) every parameter of the generator or the discriminator. */
  async setPartFrozen(runId: string, userId: string, part: PartName, frozen: boolean): Promise<number> {
    return (await this.control(runId, userId, { kind: "frozen", part, frozen })) ?? 0;
  }

  async setAlpha(runId: string, userId: string, network: TrainingNetworkName, alpha: number): Promise<void> {
    await this.control(runId, userId, { kind: "alpha", network, alpha });
  }

  /** The runs this process trains, queues, starts or ends now (its leases in a cluster). */
  hereIds(): string[] {
    const ids = new Set(this.live.keys());
    for (const id of this.ctx.slots.runIds()) ids.add(id);
    return [...ids];
  }

  /**
   * In a cluster: another process holds this run's lease now (this one was cut off from Redis past its lease; the
   * other marked the run interrupted and may have resumed it). This process's trainer is killed at once (SIGKILL:
   * it writes no checkpoint over the other's), what it still held unwritten is dropped, and nothing more of it is
   * written or pushed: the run is the other process's. True fencing (a token on every write) is part 2's.
   */
  fence(runId: string): boolean {
    const live = this.live.get(runId);
    if (!live) return false;
    live.fenced = true;
    this.live.delete(runId);
    live.losses.discard();
    const dropped = live.writes.abandon();
    live.process.kill("SIGKILL");
    console.error(`run ${runId}: another process took it over; this process's trainer was stopped (${dropped} unwritten write(s) dropped)`);
    return true;
  }

  /** Whether this process trains the run, queues it or is starting or ending its trainer. */
  private isHere(runId: string): boolean {
    return this.live.has(runId) || this.ctx.slots.position(runId) !== null || this.ctx.slots.isLive(runId);
  }

  /**
   * A control: applied here when this process trains (or queues) the run; in a cluster, otherwise sent to the process
   * that does (server/cluster/remote-runs.ts); when none does, the local refusal says why.
   */
  private async control(runId: string, userId: string, c: RemoteControl): Promise<number | null> {
    if (this.remote && !this.isHere(runId)) {
      const answered = await this.remote.control(runId, userId, c);
      if (answered) return answered.result;
    }
    return this.applyHere(runId, userId, c);
  }

  private async applyHere(runId: string, userId: string, c: RemoteControl): Promise<number | null> {
    switch (c.kind) {
      case "pause":
        this.controls.pause(runId, userId);
        return null;
      case "resume":
        this.controls.resume(runId, userId);
        return null;
      case "stop": {
        const leaving = this.queue.leave(runId, userId);
        if (leaving) await leaving;
        else this.controls.stop(runId, userId);
        return null;
      }
      case "lrMultiplier":
        await this.controls.setLrMultiplier(runId, userId, c.scope, c.param, c.value);
        return null;
      case "frozen":
        return this.controls.setPartFrozen(runId, userId, c.part, c.frozen);
      case "alpha":
        await this.controls.setAlpha(runId, userId, c.network, c.alpha);
        return null;
    }
  }

  /** In a cluster: the other processes, and the answer this process gives them for the runs it trains. */
  joinCluster(attach: (local: (runId: string, userId: string, c: RemoteControl) => Promise<number | null> | null) => RemoteRuns): void {
    this.remote = attach((runId, userId, c) => (this.isHere(runId) ? this.applyHere(runId, userId, c) : null));
  }

  /**
   * In a cluster: the active runs (running, paused, queued) whose process holds no lease any more (it died, or was cut
   * off) become interrupted or idle, as after a restart, and their sessions are told; any process can then start them.
   * `only`: just these runs. Returns the runs it changed.
   */
  async adoptOrphans(only?: string[]): Promise<string[]> {
    const cluster = this.deps.cluster;
    if (!cluster) return [];
    const unowned = async () => {
      const active = (await this.ctx.store.listActiveRuns()).filter((r) => (!only || only.includes(r.id)) && !this.isHere(r.id));
      const owners = await cluster.owners(active.map((r) => r.id));
      return active.filter((r) => !owners.get(r.id));
    };
    // Without a lease twice, a heartbeat apart and more: a Redis that restarted (empty) has every lease back within
    // one heartbeat, so only a run whose process is really gone stays unowned.
    const first = await unowned();
    if (first.length === 0) return [];
    await new Promise((r) => setTimeout(r, this.deps.cluster?.recheckMs ?? 0));
    const again = new Set((await unowned()).map((r) => r.id));
    const orphans = first.filter((r) => again.has(r.id));
    if (orphans.length === 0) return [];
    await this.ctx.store.markInterrupted(orphans.filter((r) => r.status !== "queued").map((r) => r.id));
    await this.ctx.store.resetQueued(orphans.filter((r) => r.status === "queued").map((r) => r.id));
    for (const r of orphans) {
      const run = await this.ctx.store.getRun(r.id);
      if (run) this.deps.broadcaster.status(run.sessionId, this.ctx.statusPush(run));
    }
    return orphans.map((r) => r.id);
  }

  /**
   * RuntimeGenerator, in the run's generator process, from the newest weights its trainer wrote (a snapshot every
   * couple of seconds while it trains, else its latest checkpoint): requests never wait for a training step.
   */
  async generate(runId: string, req: { label: number; seed: number; count?: number; seedB?: number }): Promise<GenerateReply> {
    const run = await this.ctx.getRun(runId);
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

  /** What a late joiner needs, bounded whatever the run's length (server/runs/history.ts). */
  history(runId: string): Promise<RunHistory> {
    return this.reader.history(runId);
  }

  /** Full-resolution points of an iteration range (both ends inclusive), at most a page, with the next page's start. */
  historyRange(runId: string, fromIteration: number, toIteration: number): Promise<LossPage> {
    return this.reader.historyRange(runId, fromIteration, toIteration);
  }

  /**
   * A run's parameter state (every LRateMultiplier, each network's solver and α, who changed each last): held in
   * memory as its trainer reports changes, rebuilt from the run's control entries only when absent.
   */
  parameterState(runId: string): Promise<ParameterState> {
    return this.ctx.parameters.current(runId);
  }

  /** The LRateMultipliers and scopes the live trainer reported (null when no process runs). */
  parameters(runId: string) {
    const live = this.live.get(runId);
    return live ? { scopes: live.scopes, lrMultipliers: live.lrMultipliers } : null;
  }

  /** Trainer processes alive now (slots held: a process counts until it has exited or was released). */
  liveCount(): number {
    return this.ctx.slots.liveCount;
  }

  /** Runs waiting in the trainer queue. */
  queuedCount(): number {
    return this.ctx.slots.queuedCount;
  }

  /**
   * Graceful shutdown: queued runs get back the status they had (nothing new starts), every trainer pauses, writes
   * a checkpoint and exits; buffered losses are written.
   */
  async shutdown(timeoutMs = 15_000): Promise<void> {
    this.ctx.closing = true;
    await this.queue.drain();
    await Promise.all(
      [...this.live.values()].map(async (live) => {
        await live.process.shutdown(timeoutMs).catch(() => undefined);
        await live.losses.flush().catch(() => undefined);
        await live.writes.close();
      }),
    );
  }
}
