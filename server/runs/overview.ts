/**
 * Run overviews for late joiners, cached: a run's downsampled shape (store.metricBuckets: per bucket the sums, min
 * and max of each loss) costs one SQL pass over all its points, about 1 s per million on the 2-core machine, and
 * better-sqlite3 runs it on the event loop. So each run's buckets are kept here and only points after the last one
 * read are aggregated on the next request (a primary-key range read); the first pass goes in slices of `slice`
 * iterations (50,000: about 40 ms each) with a turn of the event loop before each, so no query holds the loop long.
 *
 * Widths are powers of two (store.overviewWidth): when a run doubles, pairs of buckets merge into one exactly, no
 * new pass. Points are only ever appended, except when a resumed run writes iterations at or before what was read:
 * `rewind` (called by the service after every write) drops the buckets from there on, so they are read again.
 */
import { setImmediate as turn } from "node:timers/promises";
import { overviewPoint, overviewWidth, type MetricBucket, type Store } from "../db/store";
import type { LossOverview } from "../../lib/protocol/socket";

interface Entry {
  width: number;
  buckets: MetricBucket[];
  /** Every point at or before this iteration is in `buckets` (-1: none read yet). */
  readTo: number;
  /** Counts rewinds, so a read that a rewind overtook is thrown away. */
  generation: number;
  /** Requests for one run run one after another. */
  queue: Promise<unknown>;
}

function combine(a: MetricBucket, b: MetricBucket, index: number): MetricBucket {
  const first = Math.min(a.first, b.first);
  return {
    index,
    first,
    last: Math.max(a.last, b.last),
    epoch: a.first <= b.first ? a.epoch : b.epoch,
    count: a.count + b.count,
    sum: { gReal: a.sum.gReal + b.sum.gReal, fake: a.sum.fake + b.sum.fake, real: a.sum.real + b.sum.real },
    min: { gReal: Math.min(a.min.gReal, b.min.gReal), fake: Math.min(a.min.fake, b.min.fake), real: Math.min(a.min.real, b.min.real) },
    max: { gReal: Math.max(a.max.gReal, b.max.gReal), fake: Math.max(a.max.fake, b.max.fake), real: Math.max(a.max.real, b.max.real) },
  };
}

/** Buckets of width w → buckets of width 2w (index / 2), in order. */
function coarsen(buckets: readonly MetricBucket[]): MetricBucket[] {
  const out: MetricBucket[] = [];
  for (const b of buckets) {
    const index = Math.floor(b.index / 2);
    const prev = out[out.length - 1];
    if (prev && prev.index === index) out[out.length - 1] = combine(prev, b, index);
    else out.push({ ...b, index });
  }
  return out;
}

export class OverviewCache {
  /** Runs by most recent use (the last is the newest); at most maxRuns (32) are kept. */
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly store: Store,
    private readonly options: { maxPoints: number; slice?: number; maxRuns?: number },
  ) {}

  /**
   * The run's overview from iteration 0 to `upTo` (the history's last iteration), at most maxPoints buckets. (When
   * an earlier read went further, its last bucket may hold a few points after `upTo`: the chart draws the
   * full-resolution tail there anyway.)
   */
  overview(runId: string, upTo: number): Promise<LossOverview> {
    let entry = this.entries.get(runId);
    if (entry) this.entries.delete(runId);
    entry ??= { width: 1, buckets: [], readTo: -1, generation: 0, queue: Promise.resolve() };
    this.entries.set(runId, entry); // most recently used last
    for (const old of this.entries.keys()) {
      if (this.entries.size <= (this.options.maxRuns ?? 32)) break;
      this.entries.delete(old);
    }
    const e = entry;
    const work = e.queue.then(() => this.fill(e, runId, upTo));
    e.queue = work.catch(() => undefined);
    return work;
  }

  /** Points at or after `iteration` were (re)written: forget the buckets from there on. */
  rewind(runId: string, iteration: number): void {
    const e = this.entries.get(runId);
    if (!e || iteration > e.readTo) return;
    const index = Math.floor(iteration / e.width);
    e.buckets = e.buckets.filter((b) => b.index < index);
    e.readTo = index * e.width - 1;
    e.generation++;
  }

  private async fill(e: Entry, runId: string, upTo: number): Promise<LossOverview> {
    const width = overviewWidth(upTo, this.options.maxPoints);
    while (e.width < width) {
      e.buckets = coarsen(e.buckets);
      e.width *= 2;
    }
    const slice = Math.max(e.width, Math.floor((this.options.slice ?? 50_000) / e.width) * e.width);
    while (e.readTo < upTo) {
      await turn(); // let other requests and pushes in between slices
      const from = e.readTo + 1;
      const to = Math.min(upTo, from + slice - 1);
      const generation = e.generation;
      const read = await this.store.metricBuckets(runId, { width: e.width, fromIteration: from, toIteration: to });
      if (generation !== e.generation) continue; // rewound meanwhile: read again from where it says
      for (const b of read) {
        const last = e.buckets[e.buckets.length - 1];
        if (last && last.index === b.index) e.buckets[e.buckets.length - 1] = combine(last, b, b.index);
        else e.buckets.push(b);
      }
      e.readTo = to;
    }
    return { bucket: e.width, points: e.buckets.filter((b) => b.first <= upTo).map(overviewPoint) };
  }
}
