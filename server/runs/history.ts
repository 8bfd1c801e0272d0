/**
 * A run's history as a late joiner reads it: its state, its losses (bounded whatever the run's length: a short run
 * whole, a long one as its overview and its last page), every grid and diagnostics so far; full-resolution pages of
 * an iteration range; and the per-run overview cache (server/runs/overview.ts) that the loss writes rewind.
 */
import type { LossPage, RunHistory } from "../../lib/protocol/socket";
import { DEFAULT_LIMITS } from "../limits";
import type { RunContext } from "./context";
import { RunError } from "./errors";
import { OverviewCache } from "./overview";
import { gridUrl } from "./pushes";

export class RunHistoryReader {
  private overviewCache: OverviewCache | null = null;

  constructor(private readonly ctx: RunContext) {}

  private get limits(): { pagePoints: number; overviewPoints: number } {
    return this.ctx.deps.history ?? { pagePoints: DEFAULT_LIMITS.GAN_HISTORY_PAGE_POINTS, overviewPoints: DEFAULT_LIMITS.GAN_HISTORY_OVERVIEW_POINTS };
  }

  /** Points from `iteration` on were (re)written: a cached overview reads those buckets again (a resumed run). */
  rewind(runId: string, iteration: number): void {
    this.overviewCache?.rewind(runId, iteration);
  }

  /**
   * What a late joiner needs: the run's state, its losses, every grid and diagnostics so far. Bounded whatever the
   * run's length: a run of at most `pagePoints` points comes whole (overview null); a longer one as its overview
   * (at most `overviewPoints` buckets, cached per run: server/runs/overview.ts) and its last `pagePoints` points.
   */
  async history(runId: string): Promise<RunHistory> {
    const { store } = this.ctx;
    const run = await this.ctx.getRun(runId);
    const live = this.ctx.live.get(runId);
    if (live) await live.writes.settled();
    const { pagePoints, overviewPoints } = this.limits;
    const rows = await store.metricsTail(runId, pagePoints + 1);
    const whole = rows.length <= pagePoints;
    const losses = (whole ? rows : rows.slice(1)).map(({ iteration, epoch, gReal, fake, real }) => ({ iteration, epoch, gReal, fake, real }));
    const lastIteration = losses.length ? losses[losses.length - 1]!.iteration : null;
    this.overviewCache ??= new OverviewCache(store, { maxPoints: overviewPoints });
    const overview = whole || lastIteration === null ? null : await this.overviewCache.overview(runId, lastIteration);
    const grids = (await store.listGrids(runId)).map((g) => ({ epoch: g.epoch, iteration: g.iteration, url: gridUrl(runId, g.epoch) }));
    const diagnostics = (await store.listDiagnostics(runId)).map((d) => ({
      runId,
      ...d,
      alarms: d.alarms.map(({ rule, epoch, message }) => ({ rule, epoch, message })),
    }));
    return {
      run: { ...this.ctx.statusPush(run), name: run.name, totalIterations: run.totalIterations ?? null, iterationsPerEpoch: run.iterationsPerEpoch ?? null },
      overview,
      losses,
      grids,
      diagnostics,
      lastIteration,
    };
  }

  /** Full-resolution points of an iteration range (both ends inclusive), at most `pagePoints`, with the next page's start. */
  async historyRange(runId: string, fromIteration: number, toIteration: number): Promise<LossPage> {
    await this.ctx.getRun(runId);
    if (toIteration < fromIteration) throw new RunError("BAD_REQUEST", "toIteration must not be before fromIteration");
    const page = await this.ctx.store.metricsRange(runId, { fromIteration, toIteration, limit: this.limits.pagePoints });
    return { points: page.points.map(({ iteration, epoch, gReal, fake, real }) => ({ iteration, epoch, gReal, fake, real })), nextFrom: page.nextFrom };
  }
}
