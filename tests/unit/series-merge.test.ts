// The loss chart's client-side merge (app/_lib/series.ts): a long run's overview, its full-resolution tail, a zoomed-in
// range and the live stream become one sorted series with no iteration twice, and no gap or duplicate at the join.
import { describe, expect, it } from "vitest";
import type { LossOverviewPoint, LossPage, LossPoint } from "../../lib/protocol/socket";
import { chartPoints, LossSeries, mergeByIteration, mergeSpans, readRange, spansCover } from "../../app/_lib/series";

const point = (iteration: number, gReal = 1 + iteration / 1e6): LossPoint => ({ iteration, epoch: Math.floor(iteration / 100), gReal, fake: 0.5, real: 0.25 });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => point(from + i));

/** Buckets of `width` over iterations 0..last, as the server sends them (mean, min, max of each loss). */
function overview(last: number, width: number): LossOverviewPoint[] {
  const out: LossOverviewPoint[] = [];
  for (let first = 0; first <= last; first += width) {
    const pts = range(first, Math.min(last, first + width - 1));
    const g = pts.map((p) => p.gReal);
    out.push({
      iteration: first,
      last: pts[pts.length - 1]!.iteration,
      epoch: pts[0]!.epoch,
      count: pts.length,
      gReal: g.reduce((a, b) => a + b, 0) / g.length,
      fake: 0.5,
      real: 0.25,
      min: { gReal: Math.min(...g), fake: 0.5, real: 0.25 },
      max: { gReal: Math.max(...g), fake: 0.5, real: 0.25 },
    });
  }
  return out;
}

const increasing = (xs: readonly number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

describe("spans", () => {
  it("merges overlapping and touching spans and answers whether a range is covered", () => {
    expect(
      mergeSpans([
        [50, Infinity],
        [10, 19],
        [20, 29],
        [5, 12],
      ]),
    ).toEqual([
      [5, 29],
      [50, Infinity],
    ]);
    expect(
      spansCover(
        [
          [10, 19],
          [20, 29],
        ],
        12,
        28,
      ),
    ).toBe(true);
    expect(
      spansCover(
        [
          [10, 19],
          [21, 29],
        ],
        12,
        28,
      ),
    ).toBe(false);
    expect(spansCover([[100, Infinity]], 150, 1e9)).toBe(true);
    expect(spansCover([], 0, 0)).toBe(false);
  });

  it("merges sorted point lists by iteration, the later list winning on the same iteration", () => {
    const a = [point(1), point(3), point(5)];
    const b = [point(3, 9), point(4), point(6)];
    const merged = mergeByIteration([a, b]);
    expect(merged.map((p) => p.iteration)).toEqual([1, 3, 4, 5, 6]);
    expect(merged[1]!.gReal).toBe(9);
  });
});

describe("chartPoints", () => {
  it("draws buckets where no full-resolution span reaches, full points elsewhere, never an iteration twice", () => {
    const ov = overview(99, 10);
    const tail = range(65, 99);
    const drawn = chartPoints(ov, [tail], [[65, Infinity]]);
    // Buckets 0..50 (the one at 60 reaches into the tail's span), then the tail.
    expect(drawn.filter((p) => p.overview).map((p) => p.iteration)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(drawn.filter((p) => !p.overview).map((p) => p.iteration)).toEqual(tail.map((p) => p.iteration));
    expect(increasing(drawn.map((p) => p.iteration))).toBe(true);
    // A full point's band is the point itself; a bucket's is its min and max.
    expect(drawn.at(-1)!.min).toEqual(drawn.at(-1)!.max);
    expect(drawn[1]!.min.gReal).toBeLessThan(drawn[1]!.max.gReal);
  });

  it("a zoomed-in range replaces the buckets it reaches into", () => {
    const ov = overview(99, 10);
    const detail = range(22, 34);
    const tail = range(80, 99);
    const drawn = chartPoints(
      ov,
      [detail, tail],
      [
        [22, 34],
        [80, Infinity],
      ],
    );
    expect(drawn.filter((p) => p.overview).map((p) => p.iteration)).toEqual([0, 10, 40, 50, 60, 70]);
    expect(drawn.filter((p) => !p.overview).map((p) => p.iteration)).toEqual([...range(22, 34), ...tail].map((p) => p.iteration));
    expect(increasing(drawn.map((p) => p.iteration))).toBe(true);
  });

  it("a short run (no overview) is drawn point for point", () => {
    const all = range(0, 40);
    expect(chartPoints([], [all], [[0, Infinity]]).map((p) => p.iteration)).toEqual(all.map((p) => p.iteration));
  });
});

describe("LossSeries", () => {
  it("a short run's history is held whole, as before: live points continue it without a gap or a duplicate", () => {
    const s = new LossSeries();
    s.append([point(38), point(39)]); // arrived before the join's reply: after lastIteration, kept
    s.mergeHistory({ overview: null, losses: range(0, 37), lastIteration: 37 });
    expect(s.x).toEqual(range(0, 39).map((p) => p.iteration));
    expect(s.bucket).toBe(1);
    expect(s.covers(0, 39)).toBe(true);
  });

  it("drops live points the history already holds (written between subscribe and read), then appends", () => {
    const s = new LossSeries();
    s.mergeHistory({ overview: null, losses: range(0, 49), lastIteration: 49 });
    s.append([point(47, 7), point(48, 7), point(49, 7), point(50), point(51)]);
    expect(s.x).toEqual(range(0, 51).map((p) => p.iteration));
    expect(s.gReal[47]).toBe(point(47).gReal); // the history's value, not the live copy's
    // Once the stream has passed the history, a repeated iteration (a run resumed from a checkpoint) replaces from there.
    s.append([point(30, 9), point(31, 9)]);
    expect(s.x).toEqual(range(0, 31).map((p) => p.iteration));
    expect(s.gReal[30]).toBe(9);
  });

  it("a long run: overview, then the tail at full resolution, then live points; zooming in reads a range", () => {
    const last = 9_999;
    const s = new LossSeries();
    s.mergeHistory({ overview: { bucket: 16, points: overview(last, 16) }, losses: range(5_000, last), lastIteration: last });
    expect(s.bucket).toBe(16);
    expect(s.tailFrom).toBe(5_000);
    expect(increasing(s.x)).toBe(true);
    expect(s.x[0]).toBe(0);
    // 5000 / 16 = 312.5: buckets 0..311 end before the tail (bucket 312 holds 4992..5007 and reaches into it).
    expect(s.overviewPoints).toBe(312);
    expect(s.length).toBe(312 + 5_000);
    expect(s.covers(6_000, 7_000)).toBe(true);
    expect(s.covers(100, 200)).toBe(false);

    s.append([point(9_998), point(9_999), point(10_000), point(10_001)]);
    expect(s.lastIteration).toBe(10_001);
    expect(s.length).toBe(312 + 5_002);

    s.setDetail(100, 200, range(96, 204)); // points outside the range asked for are ignored
    expect(s.covers(100, 200)).toBe(true);
    expect(s.covers(90, 200)).toBe(false);
    expect(increasing(s.x)).toBe(true);
    const at = s.x.indexOf(100);
    expect(s.x.slice(at, at + 101)).toEqual(range(100, 200).map((p) => p.iteration));
    // Buckets 96..111 … 192..207 reach into [100, 200]: gone; the ones before and after stay.
    expect(s.x[at - 1]).toBe(80);
    expect(s.x[at + 101]).toBe(208);
    expect(s.overviewPoints).toBe(312 - 7);

    // A reconnect: the new history replaces the old; the range read stays (those points do not change).
    s.mergeHistory({ overview: { bucket: 16, points: overview(10_001, 16) }, losses: range(5_002, 10_001), lastIteration: 10_001 });
    expect(s.covers(100, 200)).toBe(true);
    expect(new Set(s.x).size).toBe(s.length);
    expect(s.lastIteration).toBe(10_001);
  });

  it("a resumed run repeating iterations before the tail forgets the overview and range from there on", () => {
    const s = new LossSeries();
    s.mergeHistory({ overview: { bucket: 16, points: overview(9_999, 16) }, losses: range(5_000, 9_999), lastIteration: 9_999 });
    s.append([point(10_000)]);
    s.setDetail(1_000, 1_100, range(1_000, 1_100));
    s.append([point(1_050, 3), point(1_051, 3)]);
    expect(s.lastIteration).toBe(1_051);
    expect(s.x.slice(-3)).toEqual([1_049, 1_050, 1_051]);
    expect(increasing(s.x)).toBe(true);
    expect(s.gReal.at(-1)).toBe(3);
  });

  it("clear() forgets everything", () => {
    const s = new LossSeries();
    s.mergeHistory({ overview: { bucket: 16, points: overview(9_999, 16) }, losses: range(5_000, 9_999), lastIteration: 9_999 });
    s.clear();
    expect(s.length).toBe(0);
    expect(s.bucket).toBe(1);
    expect(s.gRealMin.length).toBe(0);
  });
});

describe("readRange", () => {
  it("follows nextFrom page by page up to maxPages", async () => {
    const data = range(0, 999);
    const calls: [number, number][] = [];
    const fetchPage = async (from: number, to: number): Promise<LossPage> => {
      calls.push([from, to]);
      const inside = data.filter((p) => p.iteration >= from && p.iteration <= to);
      return { points: inside.slice(0, 300), nextFrom: inside.length > 300 ? inside[300]!.iteration : null };
    };
    const all = await readRange(fetchPage, 100, 999);
    expect(all.to).toBe(999);
    expect(all.points.map((p) => p.iteration)).toEqual(range(100, 999).map((p) => p.iteration));
    expect(calls).toEqual([
      [100, 999],
      [400, 999],
      [700, 999],
    ]);
    const capped = await readRange(fetchPage, 0, 999, 2);
    expect(capped.to).toBe(599);
    expect(capped.points.length).toBe(600);
  });
});
