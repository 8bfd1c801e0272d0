/**
 * The server pauses a run for reasons of its own: its storage failing (the run's WriteQueue says so, and again when
 * it works), the disk nearly full, or the run's creator over their disk quota (checked once an epoch). Everyone sees
 * the run paused with the reason at once, even if the database cannot record it; the reason stays on the run until
 * it trains again, and a person resumes it.
 */
import type { Live, RunContext } from "./context";

export class ServerPauses {
  constructor(private readonly ctx: RunContext) {}

  /** Pauses the run with `reason` (once: a run already paused by the server keeps its first reason). */
  pauseFor(runId: string, live: Live, reason: string): void {
    if (live.pauseReason) return;
    live.pauseReason = reason;
    live.requested.set("pause", null);
    live.process.pause();
    void this.ctx.store
      .getRun(runId)
      .then((run) => run && this.ctx.broadcaster.status(live.sessionId, { ...this.ctx.statusPush(run), status: "paused", reason }))
      .catch(() => this.ctx.broadcaster.status(live.sessionId, { runId, status: "paused", iteration: 0, epoch: 0, backend: null, reason }));
  }

  /** Storage works again: what was held is written (the queue drained); the run stays paused until someone resumes it. */
  storageRecovered(runId: string, live: Live): void {
    const reason = `${live.pauseReason ?? "storage failed"}; storage works again: resume the run`;
    live.pauseReason = reason;
    live.writes.push(
      "status",
      () => this.ctx.store.updateRun(runId, { failureReason: reason }),
      () => void this.ctx.store.getRun(runId).then((run) => run && this.ctx.broadcaster.status(live.sessionId, this.ctx.statusPush(run))),
    );
  }

  /** Pauses every training run of a user over their disk quota, or every run while the disk is nearly full. */
  async checkDisk(runId: string, live: Live): Promise<void> {
    const disk = this.ctx.deps.disk;
    if (!disk || live.pauseReason || this.ctx.closing) return;
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
}
