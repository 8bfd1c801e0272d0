/**
 * The projection of a trainer process's events into database rows and pushes: its handshake (scopes, multipliers,
 * backend), its exit (an unexpected one fails the run), and every trainer event (losses, status, epoch, sample
 * grid, checkpoint, control, diagnostics, error). Every push follows its write (the run's WriteQueue); a status the
 * trainer confirms is credited to whoever asked for it; an ended run's trainer is released.
 */
import { controlActivity, ControlChangeSchema } from "../../lib/protocol/parameters";
import type { TrainerEventMessage } from "../../lib/protocol/trainer";
import type { RunProcessEvent } from "../trainer/supervisor";
import { type Live, type RunContext, TERMINAL } from "./context";
import { gridUrl, statusOf } from "./pushes";
import type { ServerPauses } from "./server-pauses";

export class TrainerEvents {
  constructor(
    private readonly ctx: RunContext,
    private readonly pauses: ServerPauses,
  ) {}

  async onEvent(runId: string, live: Live, e: RunProcessEvent): Promise<void> {
    // Taken over by another process (RunService.fence): nothing of this trainer is written or pushed any more.
    if (live.fenced) return;
    const { store, broadcaster } = this.ctx;
    if (e.type === "ready") {
      live.scopes = e.info.scopes;
      live.lrMultipliers = e.info.lrMultipliers;
      this.ctx.lastBackend = e.info.backend;
      // What the trainer trains with (a resumed checkpoint's values) is the table's truth: each difference is pushed.
      // Taken first, so a change the trainer reports after this moves the state after it.
      const overlay = this.ctx.parameters.ready(runId, e.info, e.info.iteration).catch((err: unknown) => {
        console.error(`run ${runId}: could not read its parameter state: ${(err as Error).message}`);
        return [];
      });
      await store.updateRun(runId, {
        backend: e.info.backend.name,
        iterationsPerEpoch: e.info.iterationsPerEpoch,
        totalIterations: e.info.totalIterations,
        iteration: e.info.iteration,
      });
      for (const applied of await overlay) broadcaster.parameters(live.sessionId, { runId, ...applied });
      return;
    }
    if (e.type === "exit") {
      await live.losses.close();
      if (this.ctx.live.get(runId) === live) this.ctx.live.delete(runId);
      const run = await store.getRun(runId);
      if (!run) return;
      if (!e.exit.expected && !TERMINAL.has(run.status)) {
        await store.updateRun(runId, { status: "failed", failureReason: e.exit.reason });
        broadcaster.status(live.sessionId, { ...statusOf(run), status: "failed", reason: e.exit.reason });
        await this.ctx.activity({
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
    const { store, broadcaster } = this.ctx;
    switch (ev.type) {
      case "losses":
        live.losses.add({
          iteration: ev.iteration,
          epoch: ev.epoch,
          gReal: ev.losses.GReal,
          fake: ev.losses.Fake,
          real: ev.losses.Real,
          msPerIter: ev.msPerIter,
          at: Date.now(),
        });
        return;
      case "status": {
        await live.losses.flush();
        if (ev.status === "running") live.pauseReason = null;
        const reason = ev.reason ?? (ev.status === "paused" ? live.pauseReason : null);
        await new Promise<void>((written) => {
          live.writes.push(
            "status",
            async () => {
              await store.updateRun(runId, {
                status: ev.status,
                iteration: ev.iteration,
                epoch: ev.epoch,
                backend: ev.backend,
                failureReason: reason ?? null,
              });
              const run = await this.ctx.getRun(runId);
              broadcaster.status(live.sessionId, { ...this.ctx.statusPush(run), ...(live.imagesPerSec ? { imagesPerSec: live.imagesPerSec } : {}) });
            },
            written,
          );
          // While storage fails, the status waits in the queue; what follows here needs the database too.
          if (live.writes.trouble) written();
        });
        if (live.writes.trouble) return;
        const kinds: Partial<Record<string, "pause" | "resume" | "stop">> = { paused: "pause", running: "resume", stopped: "stop" };
        const kind = kinds[ev.status];
        if (kind && live.requested.has(kind)) {
          const userId = live.requested.get(kind) ?? null;
          live.requested.delete(kind);
          await this.ctx.activity({ sessionId: live.sessionId, runId, userId, kind: `run.${kind}`, detail: {}, iteration: ev.iteration });
        }
        if (ev.status === "completed") {
          await this.ctx.activity({ sessionId: live.sessionId, runId, userId: null, kind: "run.completed", detail: {}, iteration: ev.iteration });
        }
        if (ev.status === "failed") {
          const detail = { reason: ev.reason ?? "the trainer gave no reason" };
          await this.ctx.activity({ sessionId: live.sessionId, runId, userId: null, kind: "run.failed", detail, iteration: ev.iteration });
        }
        // An ended run needs no trainer: its RuntimeGenerator draws from its checkpoint in another process.
        if (TERMINAL.has(ev.status)) void this.ctx.release(runId);
        return;
      }
      case "epoch":
        live.imagesPerSec = ev.imagesPerSec;
        return;
      case "sampleGrid":
        live.writes.push(
          "sample grid",
          () => store.saveGrid(runId, { epoch: ev.epoch, iteration: ev.iteration, png: ev.png, rows: ev.rows, cols: ev.cols }),
          () => broadcaster.grid(live.sessionId, { runId, epoch: ev.epoch, iteration: ev.iteration, url: gridUrl(runId, ev.epoch) }),
        );
        // Once an epoch: the disk's free space and the creator's quota.
        await this.pauses.checkDisk(runId, live);
        return;
      case "checkpoint":
        live.writes.push("checkpoint", () =>
          store.saveCheckpoint(runId, { kind: ev.kind, epoch: ev.epoch, iteration: ev.iteration, dir: ev.dir, bytes: ev.bytes }),
        );
        return;
      case "control": {
        // The change as both sides apply it (a parameter the vocabulary names, a solver and its α).
        const c = ControlChangeSchema.parse(ev.change);
        const key = c.kind === "lrMultiplier" ? `lr:${c.scope}/${c.param}=${c.to}` : `opt:${c.network}`;
        const queue = live.changes.get(key);
        const userId = queue?.shift() ?? null;
        if (c.kind === "lrMultiplier") {
          live.lrMultipliers[c.scope] ??= {};
          live.lrMultipliers[c.scope]![c.param] = c.to;
        }
        // The entry first (its time and who made it), then the state moves and the change itself is pushed.
        const entry = await this.ctx.activity({ sessionId: live.sessionId, runId, userId, ...controlActivity(c), iteration: ev.iteration });
        const applied = { change: c, userName: entry.userName, iteration: ev.iteration, at: entry.createdAt };
        await this.ctx.parameters.apply(runId, applied);
        broadcaster.parameters(live.sessionId, { runId, ...applied });
        return;
      }
      case "diagnostics": {
        const iteration = ev.iteration ?? 0;
        const alarms = ev.alarms.map(({ rule, epoch, message }) => ({ rule, epoch, message }));
        live.writes.push(
          "diagnostics",
          () => store.saveDiagnostics(runId, { epoch: ev.epoch, iteration, metrics: ev.metrics, alarms: ev.alarms }),
          () => broadcaster.diagnostics(live.sessionId, { runId, epoch: ev.epoch, iteration, metrics: ev.metrics, alarms }),
        );
        if (alarms.length === 0) return;
        const session = await store.getSession(live.sessionId);
        const pause = session?.pauseOnCollapse === true;
        await this.ctx.activity({ sessionId: live.sessionId, runId, userId: null, kind: "collapse.alarm", detail: { alarms, pausing: pause }, iteration });
        if (pause) {
          live.requested.set("pause", null);
          live.process.pause();
        }
        return;
      }
      case "error":
        await this.ctx.activity({
          sessionId: live.sessionId,
          runId,
          userId: null,
          kind: "run.error",
          detail: { message: ev.message },
          iteration: ev.iteration,
        });
        return;
    }
  }
}
