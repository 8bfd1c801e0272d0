/**
 * Trainer slots: how many trainer processes may be alive at once (server-wide, per session, per user) and the FIFO
 * queue of runs waiting for one. It only counts and orders; RunService (server/runs/service.ts, its queue handling in
 * server/runs/queue.ts) is the one that decides what follows (spawn, queue, refuse) and the only one that calls it.
 *
 * A slot stands for one live trainer process. It is freed exactly once, by whichever comes first of the process's
 * exit and RunService's release of it, so what is counted is processes, never map entries that may linger. Every
 * check and take is synchronous: between a count and the take that follows it nothing else runs.
 */
import { QuotaError, type Limits } from "../limits";

export interface SlotOwner {
  runId: string;
  sessionId: string;
  /** Who started (or queued) the run; null for the server's own starts (not counted per user). */
  userId: string | null;
}

/** One live trainer process's place. */
export class Slot {
  private freed = false;
  constructor(
    readonly owner: SlotOwner,
    private readonly onFree: (slot: Slot) => void,
  ) {}

  get held(): boolean {
    return !this.freed;
  }

  /** Frees the slot: true the first time, false after (a released process that then exits frees it once). */
  free(): boolean {
    if (this.freed) return false;
    this.freed = true;
    this.onFree(this);
    return true;
  }
}

export interface QueueEntry<T> extends SlotOwner {
  /** What RunService needs to start or restore the run (its status before it was queued, its push). */
  payload: T;
  queuedAt: number;
}

export type SlotLimits = Pick<Limits, "GAN_MAX_LIVE_TRAINERS" | "GAN_MAX_LIVE_TRAINERS_PER_SESSION" | "GAN_MAX_LIVE_TRAINERS_PER_USER" | "GAN_MAX_QUEUED_RUNS">;

const runs = (n: number) => `${n} run${n === 1 ? "" : "s"}`;

export class TrainerSlots<T = unknown> {
  private readonly held = new Set<Slot>();
  private readonly waiting: QueueEntry<T>[] = [];

  /** `onFree` runs (synchronously) each time a slot is freed: RunService starts the queue's head from there. */
  constructor(
    private readonly limits: SlotLimits,
    private readonly onFree: () => void = () => undefined,
  ) {}

  /** Trainer processes alive now (slots held). */
  get liveCount(): number {
    return this.held.size;
  }

  get queuedCount(): number {
    return this.waiting.length;
  }

  get capacity(): number {
    return this.limits.GAN_MAX_LIVE_TRAINERS;
  }

  /** The queue, head first. */
  queued(): readonly QueueEntry<T>[] {
    return this.waiting;
  }

  /** Runs ahead of this one in the queue (0 at the head), or null when it is not queued. */
  position(runId: string): number | null {
    const i = this.waiting.findIndex((e) => e.runId === runId);
    return i < 0 ? null : i;
  }

  isQueued(runId: string): boolean {
    return this.position(runId) !== null;
  }

  /** Whether the run holds a slot (a live process). */
  isLive(runId: string): boolean {
    for (const s of this.held) if (s.owner.runId === runId) return true;
    return false;
  }

  /** Every run that holds a slot or waits in the queue. */
  runIds(): string[] {
    return [...[...this.held].map((s) => s.owner.runId), ...this.waiting.map((e) => e.runId)];
  }

  /** Live and queued runs of a session. */
  sessionCount(sessionId: string): number {
    let n = this.waiting.filter((e) => e.sessionId === sessionId).length;
    for (const s of this.held) if (s.owner.sessionId === sessionId) n++;
    return n;
  }

  /** Live and queued runs started by a user. */
  userCount(userId: string): number {
    let n = this.waiting.filter((e) => e.userId === userId).length;
    for (const s of this.held) if (s.owner.userId === userId) n++;
    return n;
  }

  /**
   * Admits a run: a slot now (`{ slot }`) when one is free and nobody waits (nobody is overtaken), else a place at
   * the end of the queue (`{ position }`: runs ahead of it). Throws a {@link QuotaError} when the session or the
   * user already has its share (live and queued runs count) or the queue is full; nothing changes then.
   * `sessionElsewhere`: the session's runs that other processes of a cluster train or queue (they count too).
   */
  admit(owner: SlotOwner, payload: T, sessionElsewhere = 0): { slot: Slot } | { position: number } {
    const perSession = this.limits.GAN_MAX_LIVE_TRAINERS_PER_SESSION;
    const inSession = this.sessionCount(owner.sessionId) + sessionElsewhere;
    if (inSession >= perSession) {
      throw new QuotaError(`this session already trains ${runs(inSession)} (queued runs count; the limit is ${perSession}): stop one or wait for one to end`, {
        name: "liveTrainers",
        limit: perSession,
        used: inSession,
      });
    }
    if (owner.userId !== null) {
      const perUser = this.limits.GAN_MAX_LIVE_TRAINERS_PER_USER;
      const byUser = this.userCount(owner.userId);
      if (byUser >= perUser) {
        throw new QuotaError(`you already train ${runs(byUser)} (queued runs count; the limit is ${perUser}): stop one or wait for one to end`, {
          name: "liveTrainers",
          limit: perUser,
          used: byUser,
        });
      }
    }
    if (this.held.size < this.capacity && this.waiting.length === 0) return { slot: this.take(owner) };
    const maxQueued = this.limits.GAN_MAX_QUEUED_RUNS;
    if (this.waiting.length >= maxQueued) {
      const slots = `${this.capacity} trainer slot${this.capacity === 1 ? "" : "s"}`;
      const why =
        maxQueued === 0
          ? `the server's ${slots} ${this.capacity === 1 ? "is" : "are all"} busy and it queues no runs`
          : `the trainer queue is full: ${runs(this.waiting.length)} already wait for the server's ${slots}`;
      throw new QuotaError(`${why}: try again when a run ends`, { name: "queue", limit: maxQueued, used: this.waiting.length });
    }
    this.waiting.push({ ...owner, payload, queuedAt: Date.now() });
    return { position: this.waiting.length - 1 };
  }

  /** Takes the queue's head with a slot for it, when a slot is free; null when none is free or nobody waits. */
  next(): { entry: QueueEntry<T>; slot: Slot } | null {
    if (this.held.size >= this.capacity) return null;
    const entry = this.waiting.shift();
    if (!entry) return null;
    return { entry, slot: this.take(entry) };
  }

  /** Takes the run out of the queue (a stop while queued); its entry, or null when it was not queued. */
  cancel(runId: string): QueueEntry<T> | null {
    const i = this.waiting.findIndex((e) => e.runId === runId);
    return i < 0 ? null : this.waiting.splice(i, 1)[0]!;
  }

  /** Empties the queue (the server shuts down): the entries, head first. */
  drain(): QueueEntry<T>[] {
    return this.waiting.splice(0);
  }

  private take(owner: SlotOwner): Slot {
    const slot = new Slot({ runId: owner.runId, sessionId: owner.sessionId, userId: owner.userId }, (s) => {
      this.held.delete(s);
      this.onFree();
    });
    this.held.add(slot);
    return slot;
  }
}
