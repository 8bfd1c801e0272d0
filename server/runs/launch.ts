/**
 * Starts a run's trainer process in the slot it was given: the process from the supervisor, the run's Live record
 * (its WriteQueue, whose trouble pauses the run, and its LossBuffer), and the subscription that frees the slot when
 * the process exits and hands every event to the projection (server/runs/events.ts).
 */
import { parseConfig } from "../../lib/gan/config";
import type { Live, RunContext } from "./context";
import type { TrainerEvents } from "./events";
import { LossBuffer } from "./losses";
import type { ServerPauses } from "./server-pauses";
import type { Slot } from "./trainer-slots";
import { WriteQueue } from "./write-queue";

export class TrainerLauncher {
  constructor(
    private readonly ctx: RunContext,
    private readonly parts: {
      events: TrainerEvents;
      pauses: ServerPauses;
      /** Points from `iteration` on were written (the history's overview cache reads them again). */
      rewind: (runId: string, iteration: number) => void;
    },
  ) {}

  spawn(run: { id: string; sessionId: string; createdById: string; config: unknown; outDir: string }, opts: { resumeFrom?: string }, slot: Slot): Live {
    const { deps } = this.ctx;
    const { events, pauses, rewind } = this.parts;
    const process = deps.supervisor.start({
      runId: run.id,
      config: parseConfig(run.config),
      outDir: run.outDir,
      ...(opts.resumeFrom ? { resumeFrom: opts.resumeFrom } : {}),
      ...(deps.backend ? { backend: deps.backend } : {}),
    });
    const writes = new WriteQueue({
      label: `run ${run.id}`,
      onTrouble: (reason) => pauses.pauseFor(run.id, live, `${reason}: paused until storage works again; nothing it reported is lost`),
      onRecovered: () => pauses.storageRecovered(run.id, live),
    });
    const live: Live = {
      process,
      slot,
      sessionId: run.sessionId,
      losses: new LossBuffer({
        runId: run.id,
        sessionId: run.sessionId,
        store: deps.store,
        broadcaster: deps.broadcaster,
        writes,
        flushMs: deps.flushMs ?? 100,
        rewind,
      }),
      writes,
      pauseReason: null,
      createdById: run.createdById,
      requested: new Map(),
      changes: new Map(),
      scopes: [],
      lrMultipliers: {},
    };
    this.ctx.live.set(run.id, live);
    process.on((e) => {
      // The process is gone: its slot frees now (once), so the queue moves before the run's rows are written.
      if (e.type === "exit") live.slot.free();
      events.onEvent(run.id, live, e).catch((err: unknown) => {
        // Prisma's messages run over several lines (the call, then the cause): the cause is the line that says why.
        const why =
          err instanceof Error
            ? (err.message
                .split("\n")
                .filter((l) => l.trim())
                .at(-1)
                ?.trim() ?? err.message)
            : String(err);
        console.error(`run ${run.id}: could not record ${e.type}: ${why}`);
      });
    });
    return live;
  }
}
