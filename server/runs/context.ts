/**
 * What the parts of the run service share (server/runs/service.ts wires them): its dependencies, the live trainer
 * processes by run, the trainer slots and their queue, each run's parameter state, and the few steps every part
 * takes: record an activity entry (through the ActivityLog), read a run, make a run's status push, release an ended
 * run's trainer.
 */
import type { Config } from "../../lib/gan/config";
import type { ConfigLimits } from "../../lib/gan/limits";
import type { ResolvedSpec } from "../../lib/gan/spec";
import { ENDED_STATUSES, type PartName } from "../../lib/gan/vocabulary";
import type { ActivityInput, ActivityPush } from "../../lib/protocol/activity";
import type { RunStatusPush } from "../../lib/protocol/socket";
import { ActivityLog } from "../activity/log";
import type { RunStatus, Store } from "../db/store";
import type { DiskGuard } from "../disk";
import { DEFAULT_LIMITS, type Limits } from "../limits";
import type { GeneratorPool } from "../trainer/generator-pool";
import type { RunProcess, TrainerSupervisor } from "../trainer/supervisor";
import { RunError } from "./errors";
import type { LossBuffer } from "./losses";
import { RunParameterStates } from "./parameters";
import { type Broadcaster, statusOf } from "./pushes";
import { type Slot, TrainerSlots } from "./trainer-slots";
import type { WriteQueue } from "./write-queue";

export interface RunServiceDeps {
  store: Store;
  supervisor: TrainerSupervisor;
  broadcaster: Broadcaster;
  /** The server's one ActivityLog (server/app.ts); one over `store` and `broadcaster` when not given. */
  activity?: ActivityLog;
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
  /**
   * In a cluster (server/cluster/node.ts): this process holds a lease on each run its children train or its queue
   * holds, so the other processes know the run is alive here. Absent: one process, every run is its own.
   */
  cluster?: {
    id: string;
    own(runId: string): Promise<void>;
    owners(runIds: string[]): Promise<Map<string, string | null>>;
    /** How long a run must stay without a lease before it counts as lost (more than one heartbeat). */
    recheckMs: number;
  };
}

/** Statuses after which a run has no use for its trainer (the vocabulary's ENDED_STATUSES). */
export const TERMINAL: ReadonlySet<string> = new Set<string>(ENDED_STATUSES);

/** A run with a trainer process, and what the service keeps about it while the process lives. */
export interface Live {
  process: RunProcess;
  /** Its place among the server's trainer processes; freed once, when the process exits or is released. */
  slot: Slot;
  sessionId: string;
  /** Loss points waiting for their write and push (server/runs/losses.ts). */
  losses: LossBuffer;
  /** The run's database writes in order, each then pushed; held and retried while storage fails. */
  writes: WriteQueue;
  /** Why the server paused this run (storage failing, disk full or over quota), shown until it runs again. */
  pauseReason: string | null;
  createdById: string;
  /** Who asked for the next pause/resume/stop, reported when the trainer confirms it with its iteration. */
  requested: Map<string, string | null>;
  /** Who asked for each LRateMultiplier/optimizer change, by a key of what changes, in order. */
  changes: Map<string, (string | null)[]>;
  scopes: { scope: string; part: PartName }[];
  lrMultipliers: Record<string, Record<string, number>>;
  imagesPerSec?: number;
  /** In a cluster: another process took the run over; this one's trainer is being killed and its events are dropped. */
  fenced?: boolean;
}

/** A run waiting for a trainer slot: what it was before (a stop while queued restores it) and its status push. */
export interface Queued {
  previous: { status: RunStatus; failureReason: string | null };
  push: RunStatusPush;
  /** The "queued" status written and pushed; whatever follows (start, cancel) waits for it. */
  written: Promise<void>;
  /** The position last pushed to the session (null before the first push). */
  pushedPosition: number | null;
}

export class RunContext {
  readonly live = new Map<string, Live>();
  /** Trainer processes alive (server-wide, per session, per user) and the FIFO queue of runs waiting for one. */
  readonly slots: TrainerSlots<Queued>;
  readonly limits: Limits;
  /** Set by a graceful shutdown: nothing new starts. */
  closing = false;
  /** The backend the last trainer process reported (name and what it runs on), for the health check. */
  lastBackend: { name: string; detail: string } | null = null;
  /** Where every activity entry of the run service is recorded and pushed. */
  readonly log: ActivityLog;
  /** Each run's LRateMultipliers and solvers (the parameter table), moved as its trainer reports changes. */
  readonly parameters: RunParameterStates;

  /** `onSlotFree` runs (synchronously) each time a trainer slot frees: the queue's head starts from there. */
  constructor(
    readonly deps: RunServiceDeps,
    onSlotFree: () => void,
  ) {
    this.limits = deps.limits ?? DEFAULT_LIMITS;
    this.slots = new TrainerSlots<Queued>(this.limits, onSlotFree);
    this.log = deps.activity ?? new ActivityLog({ store: deps.store, broadcaster: deps.broadcaster });
    const specForRun = deps.datasets?.specForRun?.bind(deps.datasets);
    this.parameters = new RunParameterStates({ store: deps.store, ...(specForRun ? { specForRun } : {}) });
  }

  get store(): Store {
    return this.deps.store;
  }

  get broadcaster(): Broadcaster {
    return this.deps.broadcaster;
  }

  /** Stores an activity entry and pushes it to the session (the ActivityLog); resolves with the entry as pushed. */
  activity(entry: ActivityInput): Promise<ActivityPush> {
    return this.log.record(entry);
  }

  async getRun(runId: string) {
    const run = await this.store.getRun(runId);
    if (!run) throw new RunError("NOT_FOUND", `run ${runId} does not exist`);
    return run;
  }

  /** A run's status as pushed, with its place in the queue while it waits. */
  statusPush(run: Parameters<typeof statusOf>[0]): RunStatusPush {
    const position = this.slots.position(run.id);
    return { ...statusOf(run), ...(position !== null ? { queuePosition: position } : {}) };
  }

  /** Ends a run's trainer process (checkpoint, exit); its slot frees when the process has gone. */
  async release(runId: string): Promise<void> {
    const live = this.live.get(runId);
    if (!live) return;
    this.live.delete(runId);
    await live.process.shutdown(5_000).catch(() => undefined);
    live.slot.free();
  }
}
