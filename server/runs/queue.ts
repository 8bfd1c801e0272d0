/**
 * The trainer queue as the run service handles it (server/runs/trainer-slots.ts counts and orders): a run queued
 * when every slot is taken (written "queued", then pushed with its position), the head started by itself when a
 * slot frees, every queued run's position pushed again when the queue moves, a queued run leaving it (a stop gives
 * it back the status it had), and the queue given back at shutdown.
 */
import type { Queued, RunContext } from "./context";
import { ahead, RunError } from "./errors";
import type { TrainerLauncher } from "./launch";
import { statusOf } from "./pushes";
import type { QueueEntry, Slot } from "./trainer-slots";

export class TrainerQueue {
  constructor(
    private readonly ctx: RunContext,
    private readonly launcher: TrainerLauncher,
  ) {}

  /** CONFLICT for a run that waits in the queue, or whose process is starting or ending (it holds a slot). */
  refuseIfQueuedOrStarting(runId: string): void {
    const { slots, live } = this.ctx;
    const position = slots.position(runId);
    if (position !== null) throw new RunError("CONFLICT", `this run already waits in the trainer queue (${ahead(position)}): it starts by itself`);
    if (!live.has(runId) && slots.isLive(runId))
      throw new RunError("CONFLICT", "this run's trainer process is starting or shutting down: try again in a moment");
  }

  /**
   * The run was given a place in the queue (TrainerSlots.admit): "queued" is written, then pushed with the position
   * it has by then; a start or a stop of it waits for this. Resolves with its position once the activity is recorded.
   */
  async enqueued(run: { id: string; sessionId: string; iteration: number }, userId: string | null, queued: Queued): Promise<number | null> {
    const { store, slots, broadcaster } = this.ctx;
    const runId = run.id;
    queued.written = store.updateRun(runId, { status: "queued", failureReason: null }).then((saved) => {
      queued.push = statusOf(saved);
      const position = slots.position(runId);
      if (position === null) return; // already out of the queue again: what follows pushes its status
      queued.pushedPosition = position;
      broadcaster.status(run.sessionId, { ...queued.push, queuePosition: position });
    });
    try {
      await queued.written;
    } catch (e) {
      if (slots.cancel(runId)) this.pushPositions();
      throw e;
    }
    const position = slots.position(runId);
    await this.ctx.activity({
      sessionId: run.sessionId,
      runId,
      userId,
      kind: "run.queued",
      detail: { ahead: position ?? 0, slots: slots.capacity },
      iteration: run.iteration,
    });
    return position;
  }

  /** A slot freed: the queue's head starts in it (and the next, while slots are free), then every position moves. */
  pump(): void {
    if (this.ctx.closing) return;
    let moved = false;
    for (let n = this.ctx.slots.next(); n; n = this.ctx.slots.next()) {
      moved = true;
      void this.startQueued(n.entry, n.slot);
    }
    if (moved) this.pushPositions();
  }

  /** Pushes the position of every queued run whose position changed since its last push. */
  private pushPositions(): void {
    this.ctx.slots.queued().forEach((entry, position) => {
      const q = entry.payload;
      if (q.pushedPosition === null || q.pushedPosition === position) return; // not announced yet, or unchanged
      q.pushedPosition = position;
      this.ctx.broadcaster.status(entry.sessionId, { ...q.push, queuePosition: position });
    });
  }

  /** Starts a run taken from the queue in the slot it was given; the run goes back to its previous status if it cannot. */
  private async startQueued(entry: QueueEntry<Queued>, slot: Slot): Promise<void> {
    const { store, broadcaster } = this.ctx;
    const { runId, sessionId, userId, payload: q } = entry;
    let spawned = false;
    try {
      await q.written;
      const run = await store.getRun(runId);
      if (!run) {
        slot.free();
        return;
      }
      const checkpoint = q.previous.status === "idle" ? null : await store.latestCheckpoint(runId, "latest");
      if (this.ctx.closing) {
        slot.free();
        await store.updateRun(runId, { status: q.previous.status, failureReason: q.previous.failureReason });
        return;
      }
      // Back to what it was (as after a direct start, the trainer's first status says "running"), then the process.
      const saved = await store.updateRun(runId, { status: q.previous.status, failureReason: q.previous.failureReason });
      this.launcher.spawn(run, checkpoint ? { resumeFrom: checkpoint.dir } : {}, slot);
      spawned = true;
      broadcaster.status(sessionId, statusOf(saved));
      await this.ctx.activity({
        sessionId,
        runId,
        userId,
        ...(checkpoint
          ? ({ kind: "run.resumedFromCheckpoint", detail: { fromQueue: true, checkpointIteration: checkpoint.iteration } } as const)
          : ({ kind: "run.started", detail: { fromQueue: true } } as const)),
        iteration: checkpoint?.iteration ?? 0,
      });
    } catch (e) {
      console.error(`run ${runId}: could not start from the trainer queue: ${(e as Error).message}`);
      if (spawned) return;
      slot.free();
      const reason = `could not start from the trainer queue: ${(e as Error).message}`;
      const saved = await store.updateRun(runId, { status: q.previous.status, failureReason: q.previous.status === "idle" ? null : reason }).catch(() => null);
      if (saved) broadcaster.status(sessionId, { ...statusOf(saved), reason });
    }
  }

  /**
   * A stop of a queued run: it leaves the queue (at once) and gets back the status it had, and everyone behind it
   * moves up. Null when the run is not queued.
   */
  leave(runId: string, userId: string | null): Promise<void> | null {
    const entry = this.ctx.slots.cancel(runId);
    return entry ? this.restore(entry, userId) : null;
  }

  private async restore(entry: QueueEntry<Queued>, userId: string | null): Promise<void> {
    this.pushPositions();
    const q = entry.payload;
    await q.written.catch(() => undefined);
    const saved = await this.ctx.store.updateRun(entry.runId, { status: q.previous.status, failureReason: q.previous.failureReason });
    this.ctx.broadcaster.status(entry.sessionId, statusOf(saved));
    await this.ctx.activity({
      sessionId: entry.sessionId,
      runId: entry.runId,
      userId,
      kind: "run.unqueued",
      detail: { status: q.previous.status },
      iteration: saved.iteration,
    });
  }

  /** Graceful shutdown: the queue empties and every queued run gets back the status it had (nothing new starts). */
  async drain(): Promise<void> {
    await Promise.all(
      this.ctx.slots.drain().map(async ({ runId, payload: q }) => {
        await q.written.catch(() => undefined);
        await this.ctx.store.updateRun(runId, { status: q.previous.status, failureReason: q.previous.failureReason }).catch(() => undefined);
      }),
    );
  }
}
