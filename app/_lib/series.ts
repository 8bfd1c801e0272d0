/**
 * The losses of one run as column arrays (what uPlot draws), appended in place. History and live points merge by
 * iteration: a point at or before the last one (a run resumed from an earlier checkpoint repeats iterations)
 * replaces everything from there on. Listeners are told after each change; the chart redraws at most once a frame.
 */
import type { LossPoint } from "../../lib/protocol/socket";

export class LossSeries {
  readonly x: number[] = [];
  readonly gReal: number[] = [];
  readonly fake: number[] = [];
  readonly real: number[] = [];
  readonly epoch: number[] = [];
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

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  private truncateFrom(iteration: number): void {
    // Binary search for the first index with x >= iteration.
    let lo = 0;
    let hi = this.x.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.x[mid]! < iteration) lo = mid + 1;
      else hi = mid;
    }
    for (const a of [this.x, this.gReal, this.fake, this.real, this.epoch]) a.length = lo;
  }

  private push(points: readonly LossPoint[]): void {
    for (const p of points) {
      const last = this.lastIteration;
      if (last !== null && p.iteration <= last) this.truncateFrom(p.iteration);
      this.x.push(p.iteration);
      this.gReal.push(p.gReal);
      this.fake.push(p.fake);
      this.real.push(p.real);
      this.epoch.push(p.epoch);
    }
  }

  clear(): void {
    this.truncateFrom(-Infinity);
    this.arrivals = [];
    this.notify();
  }

  /** Live points from the socket. */
  append(points: readonly LossPoint[]): void {
    if (points.length === 0) return;
    this.push(points);
    const now = performance.now();
    this.arrivals.push({ t: now, iteration: points[points.length - 1]!.iteration });
    while (this.arrivals.length > 2 && now - this.arrivals[0]!.t > 15_000) this.arrivals.shift();
    this.notify();
  }

  /**
   * The history a `join` returned (every point up to `lastIteration`), merged with live points that arrived
   * after it: those are kept, everything else is replaced by the history.
   */
  mergeHistory(history: readonly LossPoint[], lastIteration: number | null): void {
    const keep: LossPoint[] = [];
    for (let i = 0; i < this.x.length; i++) {
      if (lastIteration === null || this.x[i]! > lastIteration) {
        keep.push({ iteration: this.x[i]!, epoch: this.epoch[i]!, gReal: this.gReal[i]!, fake: this.fake[i]!, real: this.real[i]! });
      }
    }
    this.truncateFrom(-Infinity);
    this.push(history);
    this.push(keep);
    this.arrivals = [];
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
