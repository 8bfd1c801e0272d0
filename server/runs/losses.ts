/**
 * One live run's loss points between the trainer's report and the session's push: buffered, written in batches (one
 * transaction each, through the run's WriteQueue, so writes and pushes keep their order) and pushed once written.
 * Pushes are throttled to one per `flushMs` with a leading edge: a point that arrives after a quiet interval goes
 * out at once (its latency is one database write), and a burst waits for the next slot.
 */
import type { LossPoint } from "../../lib/protocol/socket";
import type { Store } from "../db/store";
import type { Broadcaster } from "./pushes";
import type { WriteQueue } from "./write-queue";

/** A point as the trainer reported it: with its iteration's duration, which is stored but not pushed. */
export type BufferedLossPoint = LossPoint & { msPerIter?: number };

export class LossBuffer {
  private buffer: LossPoint[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastFlush = 0;

  constructor(
    private readonly o: {
      runId: string;
      sessionId: string;
      store: Store;
      broadcaster: Broadcaster;
      writes: WriteQueue;
      /** Write and push at most this often (ms). */
      flushMs: number;
      /** Points from `iteration` on were written: a cached overview reads those buckets again (a resumed run). */
      rewind: (runId: string, iteration: number) => void;
    },
  ) {}

  /** Buffers a point; it is written and pushed with the next batch. */
  add(point: BufferedLossPoint): void {
    this.buffer.push(point);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastFlush + this.o.flushMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.lastFlush = Date.now();
      void this.flush();
    }, wait);
  }

  /**
   * Queues the buffered losses as one write (one transaction), pushed once written; writes and pushes keep their
   * order. Resolves when the write is done, or at once while storage fails (the points wait in the queue).
   */
  flush(): Promise<void> {
    const { runId, writes } = this.o;
    // A diverging run reports non-finite losses once before it fails; its failure says so, SQLite cannot store NaN.
    const points = this.buffer.splice(0).filter((p) => Number.isFinite(p.gReal + p.fake + p.real));
    if (points.length > 0) {
      const last = points[points.length - 1]!;
      writes.push(
        "losses",
        async () => {
          await this.o.store.appendMetrics(
            runId,
            points.map((p) => ({ ...p, msPerIter: (p as BufferedLossPoint).msPerIter ?? 0 })),
          );
          await this.o.store.updateRun(runId, { iteration: last.iteration + 1, epoch: last.epoch });
        },
        () => {
          // A resumed run may write at or before what a cached overview read: it reads those buckets again.
          this.o.rewind(runId, points[0]!.iteration);
          this.o.broadcaster.losses(
            this.o.sessionId,
            runId,
            points.map(({ iteration, epoch, gReal, fake, real, at }) => ({ iteration, epoch, gReal, fake, real, ...(at ? { at } : {}) })),
          );
        },
      );
    }
    return writes.settled();
  }

  /** Drops what is buffered, unwritten (the run belongs to another process now); nothing more is scheduled. */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.buffer.length = 0;
  }

  /** The trainer has exited: no batch is waiting for a timer any more; what is buffered is written now. */
  close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return this.flush();
  }
}
