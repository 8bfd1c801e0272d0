/**
 * People's controls of a training run, turned into trainer commands: pause, resume, stop, an LRateMultiplier, a
 * part frozen or unfrozen (every multiplier 0 or 1), a training network's α. Each remembers who asked, so the
 * activity entry written when the trainer confirms the change (server/runs/events.ts) names them. A run without a
 * live trainer gets a CONFLICT that says why (queued, starting or ending, not training).
 */
import { PARAMETER_NAMES, type PartName, type TrainingNetworkName } from "../../lib/gan/vocabulary";
import type { Live, RunContext } from "./context";
import { ahead, asRunError, RunError } from "./errors";

export class RunControls {
  constructor(private readonly ctx: RunContext) {}

  private requireLive(runId: string): Live {
    const live = this.ctx.live.get(runId);
    if (live) return live;
    const position = this.ctx.slots.position(runId);
    if (position !== null)
      throw new RunError("CONFLICT", `this run waits in the trainer queue (${ahead(position)}): it starts by itself, or stop it to leave the queue`);
    if (this.ctx.slots.isLive(runId)) throw new RunError("CONFLICT", "this run's trainer process is starting or shutting down: try again in a moment");
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

  /** Stops a training run (a queued one leaves the queue instead: server/runs/queue.ts). */
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
  async setPartFrozen(runId: string, userId: string, part: PartName, frozen: boolean): Promise<number> {
    const live = this.requireLive(runId);
    let changed = 0;
    for (const { scope } of live.scopes.filter((s) => s.part === part)) {
      for (const param of PARAMETER_NAMES) {
        if (live.lrMultipliers[scope]?.[param] === undefined) continue;
        await this.setLrMultiplier(runId, userId, scope, param, frozen ? 0 : 1);
        changed++;
      }
    }
    return changed;
  }

  async setAlpha(runId: string, userId: string, network: TrainingNetworkName, alpha: number): Promise<void> {
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
}
