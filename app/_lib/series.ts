/**
 * The losses of one run as column arrays (what uPlot draws), appended in place. A short run is held whole, every
 * point; a long one (its history has an overview) is held as overview buckets where no full-resolution points are
 * held, and full-resolution points where they are: the tail the history gave (growing with the live stream) and
 * one zoomed-in range read with `runs.historyRange` (`setDetail`). The merge is by iteration and never draws an
 * iteration twice: a bucket is left out wherever a full-resolution range reaches into it.
 *
 * History and live points merge by iteration. `join` subscribes before it reads the history, so a point written in
 * between arrives both ways: live points at or before the history's lastIteration are dropped until the stream
 * passes it. After that, a point at or before the last one (a run resumed from an earlier checkpoint repeats
 * iterations) replaces everything from there on. Listeners are told after each change; the chart
 * redraws at most once a frame.
 */
import type { LossExtremes, LossOverview, LossOverviewPoint, LossPage, LossPoint, RunHistory } from "../../lib/protocol/socket";

/** One drawn point: a full-resolution point (its extremes are its own values) or an overview bucket (means and extremes). */
export interface ChartPoint {
  iteration: number;
  epoch: number;
  gReal: number;
  fake: number;
  real: number;
  min: LossExtremes;
  max: LossExtremes;
  overview: boolean;
}

/** Iterations held at full resolution, both ends inclusive (`to` may be Infinity: the tail, which grows). */
export type Span = readonly [from: number, to: number];

/** The spans sorted and joined where they overlap or touch. */
export function mergeSpans(spans: readonly Span[]): Span[] {
  const sorted = spans.filter(([a, b]) => b >= a).sort((p, q) => p[0] - q[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Whether every iteration in [from, to] lies in the spans. */
export function spansCover(spans: readonly Span[], from: number, to: number): boolean {
  return mergeSpans(spans).some(([a, b]) => a <= from && to <= b);
}

/** Sorted point lists merged by iteration; on the same iteration the later list wins. */
export function mergeByIteration(lists: readonly (readonly LossPoint[])[]): LossPoint[] {
  let merged: LossPoint[] = [];
  for (const list of lists) {
    if (merged.length === 0) {
      merged = list.slice();
      continue;
    }
    const out: LossPoint[] = [];
    let i = 0;
    let j = 0;
    while (i < merged.length || j < list.length) {
      const a = merged[i];
      const b = list[j];
      if (b === undefined || (a !== undefined && a.iteration < b.iteration)) {
        out.push(a!);
        i++;
      } else {
        if (a !== undefined && a.iteration === b.iteration) i++;
        out.push(b);
        j++;
      }
    }
    merged = out;
  }
  return merged;
}

const full = (p: LossPoint): ChartPoint => {
  const v = { gReal: p.gReal, fake: p.fake, real: p.real };
  return { iteration: p.iteration, epoch: p.epoch, gReal: p.gReal, fake: p.fake, real: p.real, min: v, max: v, overview: false };
};

/**
 * What the chart draws, in iteration order, no iteration twice: every full-resolution point (of `lists`, merged by
 * iteration, later lists winning), and the overview buckets that no span in `spans` reaches into.
 */
export function chartPoints(overview: readonly LossOverviewPoint[], lists: readonly (readonly LossPoint[])[], spans: readonly Span[]): ChartPoint[] {
  const held = mergeSpans(spans);
  const points = mergeByIteration(lists);
  const buckets = overview.filter((o) => !held.some(([a, b]) => o.last >= a && o.iteration <= b));
  const out: ChartPoint[] = [];
  let i = 0;
  let j = 0;
  while (i < buckets.length || j < points.length) {
    const o = buckets[i];
    const p = points[j];
    if (p === undefined || (o !== undefined && o.iteration < p.iteration)) {
      out.push({ iteration: o!.iteration, epoch: o!.epoch, gReal: o!.gReal, fake: o!.fake, real: o!.real, min: o!.min, max: o!.max, overview: true });
      i++;
    } else {
      if (o !== undefined && o.iteration === p.iteration) i++; // cannot happen with consistent spans: full resolution wins
      out.push(full(p));
      j++;
    }
  }
  return out;
}

/**
 * Reads the full-resolution points of [from, to] with `runs.historyRange`, page after page (at most `maxPages`).
 * Returns them and the last iteration they account for (`to` when every page was read).
 */
export async function readRange(
  fetchPage: (fromIteration: number, toIteration: number) => Promise<LossPage>,
  from: number,
  to: number,
  maxPages = 8,
): Promise<{ points: LossPoint[]; to: number }> {
  const points: LossPoint[] = [];
  let cursor = from;
  for (let pages = 1; ; pages++) {
    const page = await fetchPage(cursor, to);
    points.push(...page.points);
    if (page.nextFrom === null) return { points, to };
    if (pages >= maxPages || page.nextFrom <= cursor) return { points, to: page.nextFrom - 1 };
    cursor = page.nextFrom;
  }
}

/** The first index of a sorted list whose iteration is >= `iteration`. */
function lowerBound(list: readonly { iteration: number }[], iteration: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.iteration < iteration) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class LossSeries {
  readonly x: number[] = [];
  readonly gReal: number[] = [];
  readonly fake: number[] = [];
  readonly real: number[] = [];
  readonly epoch: number[] = [];
  /** Each drawn point's lowest and highest losses: an overview bucket's extremes (the chart's band), else the point's own. */
  readonly gRealMin: number[] = [];
  readonly gRealMax: number[] = [];
  readonly fakeMin: number[] = [];
  readonly fakeMax: number[] = [];
  readonly realMin: number[] = [];
  readonly realMax: number[] = [];
  private overview: LossOverviewPoint[] = [];
  private width = 1;
  /** Full resolution from the history's tail on, live points appended. */
  private tail: LossPoint[] = [];
  /** One range read at full resolution for a zoom, with the iterations it accounts for. */
  private detail: { from: number; to: number; points: LossPoint[] } | null = null;
  private drawnBuckets = 0;
  /** The merged history's lastIteration, until a live point passes it. */
  private historyLast: number | null = null;
  private readonly listeners = new Set<() => void>();
  /** (time in ms, iteration) of recent live arrivals, for the speed estimate. */
  private arrivals: { t: number; iteration: number }[] = [];

  get length(): number {
    return this.x.length;
  }

  get lastIteration(): number | null {
    return this.x.length ? this.x[this.x.length - 1]! : null;
  }

  get lastEpoch(): number | null {
    return this.epoch.length ? this.epoch[this.epoch.length - 1]! : null;
  }

  /** Iterations per overview bucket (1 when the series holds every point). */
  get bucket(): number {
    return this.overview.length ? this.width : 1;
  }

  /** Overview buckets drawn now (0: every drawn point is at full resolution). */
  get overviewPoints(): number {
    return this.drawnBuckets;
  }

  /** Where the full-resolution tail starts (null without one). */
  get tailFrom(): number | null {
    return this.tail[0]?.iteration ?? null;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  private spans(): Span[] {
    const spans: Span[] = [];
    if (this.tail.length) spans.push([this.tail[0]!.iteration, Infinity]);
    if (this.detail) spans.push([this.detail.from, this.detail.to]);
    return spans;
  }

  /** Whether every iteration in [from, to] is drawn at full resolution (always, for a series without an overview). */
  covers(from: number, to: number): boolean {
    return this.overview.length === 0 || spansCover(this.spans(), from, to);
  }

  private pushColumn(p: ChartPoint): void {
    this.x.push(p.iteration);
    this.gReal.push(p.gReal);
    this.fake.push(p.fake);
    this.real.push(p.real);
    this.epoch.push(p.epoch);
    this.gRealMin.push(p.min.gReal);
    this.gRealMax.push(p.max.gReal);
    this.fakeMin.push(p.min.fake);
    this.fakeMax.push(p.max.fake);
    this.realMin.push(p.min.real);
    this.realMax.push(p.max.real);
  }

  /** The drawn columns again from the overview, the detail range and the tail. */
  private rebuild(): void {
    for (const a of [
      this.x,
      this.gReal,
      this.fake,
      this.real,
      this.epoch,
      this.gRealMin,
      this.gRealMax,
      this.fakeMin,
      this.fakeMax,
      this.realMin,
      this.realMax,
    ])
      a.length = 0;
    const points = chartPoints(this.overview, this.detail ? [this.detail.points, this.tail] : [this.tail], this.spans());
    this.drawnBuckets = 0;
    for (const p of points) {
      if (p.overview) this.drawnBuckets++;
      this.pushColumn(p);
    }
  }

  /** Forgets everything at or after `iteration` (a resumed run writes those iterations again). */
  private truncateFrom(iteration: number): void {
    this.tail.length = lowerBound(this.tail, iteration);
    this.overview = this.overview.slice(0, lowerBound(this.overview, iteration));
    if (this.detail) {
      const points = this.detail.points.slice(0, lowerBound(this.detail.points, iteration));
      this.detail = this.detail.from < iteration ? { from: this.detail.from, to: Math.min(this.detail.to, iteration - 1), points } : null;
    }
  }

  private appendTail(p: LossPoint): void {
    const last = this.tail[this.tail.length - 1];
    if (last && p.iteration <= last.iteration) this.tail.length = lowerBound(this.tail, p.iteration);
    this.tail.push({ iteration: p.iteration, epoch: p.epoch, gReal: p.gReal, fake: p.fake, real: p.real });
  }

  clear(): void {
    this.overview = [];
    this.width = 1;
    this.tail = [];
    this.detail = null;
    this.historyLast = null;
    this.rebuild();
    this.arrivals = [];
    this.notify();
  }

  /** Live points from the socket. */
  append(pushed: readonly LossPoint[]): void {
    const after = this.historyLast;
    const points = after === null ? pushed : pushed.filter((p) => p.iteration > after);
    if (points.length === 0) return;
    this.historyLast = null; // the stream has passed the history
    for (const p of points) {
      const last = this.lastIteration;
      if (last !== null && p.iteration <= last) {
        this.truncateFrom(p.iteration);
        this.rebuild();
      }
      this.appendTail(p);
      this.pushColumn(full(p));
    }
    const now = performance.now();
    this.arrivals.push({ t: now, iteration: points[points.length - 1]!.iteration });
    while (this.arrivals.length > 2 && now - this.arrivals[0]!.t > 15_000) this.arrivals.shift();
    this.notify();
  }

  /**
   * The history a `join` returned (an overview, when the run is long, and full-resolution points up to
   * `lastIteration`), merged with live points that arrived after it: those are kept, everything else is replaced by
   * the history. A zoomed-in range already read stays (those points do not change).
   */
  mergeHistory(history: Pick<RunHistory, "losses" | "lastIteration"> & { overview?: LossOverview | null }): void {
    const { lastIteration } = history;
    const keep = this.tail.filter((p) => lastIteration === null || p.iteration > lastIteration);
    this.overview = history.overview?.points ?? [];
    this.width = history.overview?.bucket ?? 1;
    if (!history.overview) this.detail = null;
    this.tail = [];
    for (const p of history.losses) this.appendTail(p);
    for (const p of keep) this.appendTail(p);
    this.historyLast = keep.length ? null : lastIteration;
    this.rebuild();
    this.arrivals = [];
    this.notify();
  }

  /**
   * Full-resolution points of [from, to] (read with `runs.historyRange`) for a zoom: drawn instead of the overview
   * there. One range at a time: a new one replaces the last.
   */
  setDetail(from: number, to: number, points: readonly LossPoint[]): void {
    if (this.overview.length === 0) return;
    const inside = points.filter((p) => p.iteration >= from && p.iteration <= to);
    this.detail = { from, to, points: inside.map(({ iteration, epoch, gReal, fake, real }) => ({ iteration, epoch, gReal, fake, real })) };
    this.rebuild();
    this.notify();
  }

  /** Iterations per second over the last ~15 s of live points, or null without enough of them. */
  rate(now = performance.now()): number | null {
    const recent = this.arrivals.filter((a) => now - a.t < 15_000);
    if (recent.length < 2) return null;
    const first = recent[0]!;
    const last = recent[recent.length - 1]!;
    const dt = (last.t - first.t) / 1000;
    if (dt < 1 || now - last.t > 5_000) return null;
    return (last.iteration - first.iteration) / dt;
  }
}
