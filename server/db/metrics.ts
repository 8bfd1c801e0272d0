// Loss points (MetricPoint, one per run and iteration): appended in batches, read as pages, the tail, an iteration
// range, or an overview aggregated in SQL into power-of-two buckets (server/runs/overview.ts caches it per run).
import { Prisma } from "./generated/client";
import { prismaCode, type StoreDb, StoreError } from "./shared";

export interface MetricInput {
  iteration: number;
  epoch: number;
  gReal: number;
  fake: number;
  real: number;
  msPerIter: number;
}
export type MetricRecord = MetricInput;

/** GReal, Fake and Real together (a bucket's sums, minima or maxima). */
export interface LossTriple {
  gReal: number;
  fake: number;
  real: number;
}

/**
 * The points of one overview bucket (iterations [index·width, (index+1)·width)) as SQL aggregated them: sums (not
 * means, so two partial aggregates of the same bucket add up exactly), minima and maxima, the first and last
 * iteration present and the first point's epoch.
 */
export interface MetricBucket {
  index: number;
  first: number;
  last: number;
  epoch: number;
  count: number;
  sum: LossTriple;
  min: LossTriple;
  max: LossTriple;
}

/** A bucket for the chart: means instead of sums. */
export interface MetricOverviewPoint {
  iteration: number;
  last: number;
  epoch: number;
  count: number;
  gReal: number;
  fake: number;
  real: number;
  min: LossTriple;
  max: LossTriple;
}

/**
 * The bucket width of a run's overview when its points reach `lastIteration`: the smallest power of two that fits
 * iterations 0…lastIteration into at most `maxPoints` buckets (so between maxPoints/2 and maxPoints of them once
 * the run is long). A power of two, so when the run doubles, two buckets merge into one exactly.
 */
export function overviewWidth(lastIteration: number, maxPoints: number): number {
  const need = Math.ceil((lastIteration + 1) / Math.max(1, maxPoints));
  let width = 1;
  while (width < need) width *= 2;
  return width;
}

/** Means for the chart from a bucket's sums. */
export function overviewPoint(b: MetricBucket): MetricOverviewPoint {
  return {
    iteration: b.first,
    last: b.last,
    epoch: b.epoch,
    count: b.count,
    gReal: b.sum.gReal / b.count,
    fake: b.sum.fake / b.count,
    real: b.sum.real / b.count,
    min: b.min,
    max: b.max,
  };
}

/** Rows per INSERT statement in appendMetrics (7 parameters each; SQLite here allows 32766). */
const METRIC_CHUNK = 500;

function checkMetric(p: MetricInput, index: number): void {
  const where = `metric point ${index} (iteration ${String(p.iteration)})`;
  if (!Number.isSafeInteger(p.iteration) || p.iteration < 0) throw new RangeError(`${where}: iteration must be a non-negative integer`);
  if (!Number.isSafeInteger(p.epoch) || p.epoch < 0) throw new RangeError(`${where}: epoch must be a non-negative integer`);
  for (const key of ["gReal", "fake", "real", "msPerIter"] as const) {
    if (typeof p[key] !== "number" || !Number.isFinite(p[key])) {
      throw new RangeError(`${where}: ${key} must be a finite number (got ${String(p[key])})`);
    }
  }
}

export class MetricStore {
  constructor(private readonly db: StoreDb) {}

  /**
   * Appends the points in ONE transaction (all or nothing), ignoring points whose (runId, iteration) is already stored.
   * Returns how many were inserted. Throws a RangeError before writing anything when a point is not valid (non-integer
   * iteration or epoch, or a loss that is not a finite number: SQLite cannot store NaN), and NOT_FOUND for a missing run.
   */
  async appendMetrics(runId: string, points: readonly MetricInput[]): Promise<number> {
    points.forEach(checkMetric);
    if (points.length === 0) return 0;
    const { prisma } = this.db;
    const statements: Prisma.PrismaPromise<number>[] = [];
    for (let i = 0; i < points.length; i += METRIC_CHUNK) {
      const rows = points
        .slice(i, i + METRIC_CHUNK)
        .map((p) => Prisma.sql`(${runId}, ${p.iteration}, ${p.epoch}, ${p.gReal}, ${p.fake}, ${p.real}, ${p.msPerIter})`);
      statements.push(
        prisma.$executeRaw`INSERT INTO "MetricPoint" ("runId", "iteration", "epoch", "gReal", "fake", "real", "msPerIter") VALUES ${Prisma.join(rows)} ON CONFLICT DO NOTHING`,
      );
    }
    try {
      const counts = await prisma.$transaction(statements);
      return counts.reduce((a, b) => a + b, 0);
    } catch (e) {
      if (prismaCode(e) === "P2003" || /FOREIGN KEY constraint failed|violates foreign key constraint/i.test(e instanceof Error ? e.message : "")) {
        throw new StoreError("NOT_FOUND", `no run ${runId} to append metrics to`, { cause: e });
      }
      throw e;
    }
  }

  /** The run's points in iteration order: after `afterIteration` (exclusive) when given, at most `limit` when given. */
  async metrics(runId: string, options: { afterIteration?: number; limit?: number } = {}): Promise<MetricRecord[]> {
    return this.db.prisma.metricPoint.findMany({
      where: { runId, ...(options.afterIteration !== undefined ? { iteration: { gt: options.afterIteration } } : {}) },
      orderBy: { iteration: "asc" },
      ...(options.limit !== undefined ? { take: options.limit } : {}),
      select: { iteration: true, epoch: true, gReal: true, fake: true, real: true, msPerIter: true },
    });
  }

  /** The highest iteration with a stored point, or null when the run has none. */
  async lastIteration(runId: string): Promise<number | null> {
    const row = await this.db.prisma.metricPoint.findFirst({
      where: { runId },
      orderBy: { iteration: "desc" },
      select: { iteration: true },
    });
    return row?.iteration ?? null;
  }

  /**
   * The run's points in [fromIteration, toIteration] (both inclusive) aggregated in SQL into buckets of `width`
   * iterations (bucket index = iteration / width), in bucket order. One pass over the range through the primary
   * key; only the buckets come back to JS. Empty buckets are absent.
   */
  async metricBuckets(runId: string, options: { width: number; fromIteration: number; toIteration: number }): Promise<MetricBucket[]> {
    const { width, fromIteration, toIteration } = options;
    if (!Number.isSafeInteger(width) || width < 1) throw new RangeError(`bucket width must be a positive integer (got ${String(width)})`);
    const rows = await this.db.prisma.$queryRaw<Record<string, number | bigint>[]>`
      SELECT CAST("iteration" / ${width} AS INTEGER) AS "b", MIN("iteration") AS "first", MAX("iteration") AS "last",
             MIN("epoch") AS "epoch", COUNT(*) AS "n",
             SUM("gReal") AS "gs", MIN("gReal") AS "gmin", MAX("gReal") AS "gmax",
             SUM("fake") AS "fs", MIN("fake") AS "fmin", MAX("fake") AS "fmax",
             SUM("real") AS "rs", MIN("real") AS "rmin", MAX("real") AS "rmax"
      FROM "MetricPoint"
      WHERE "runId" = ${runId} AND "iteration" >= ${fromIteration} AND "iteration" <= ${toIteration}
      GROUP BY "b" ORDER BY "b"`;
    const n = (v: number | bigint | undefined) => Number(v ?? 0);
    return rows.map((r) => ({
      index: n(r.b),
      first: n(r.first),
      last: n(r.last),
      epoch: n(r.epoch),
      count: n(r.n),
      sum: { gReal: n(r.gs), fake: n(r.fs), real: n(r.rs) },
      min: { gReal: n(r.gmin), fake: n(r.fmin), real: n(r.rmin) },
      max: { gReal: n(r.gmax), fake: n(r.fmax), real: n(r.rmax) },
    }));
  }

  /**
   * About `maxPoints` points spread over the whole run (up to `toIteration` when given), computed in SQL: buckets of
   * {@link overviewWidth} iterations, each with the mean of every loss and its min and max (a mean alone would hide a
   * one-iteration spike; min/max keep it visible as a band; a sample per bucket would miss it). `bucket` is the
   * width (1: every point is its own bucket). One pass over the run's rows in SQLite, about 1 s per million points
   * on the 2-core machine: the service keeps an incremental cache on top of it (server/runs/overview.ts).
   */
  async metricsOverview(runId: string, maxPoints: number, options: { toIteration?: number } = {}): Promise<{ bucket: number; points: MetricOverviewPoint[] }> {
    const last = options.toIteration ?? (await this.lastIteration(runId));
    if (last === null || last < 0) return { bucket: 1, points: [] };
    const width = overviewWidth(last, maxPoints);
    const buckets = await this.metricBuckets(runId, { width, fromIteration: 0, toIteration: last });
    return { bucket: width, points: buckets.map(overviewPoint) };
  }

  /**
   * At most `limit` points with fromIteration ≤ iteration ≤ toIteration, in iteration order (a primary-key range
   * read), and where the next page starts when more remain (null when none).
   */
  async metricsRange(
    runId: string,
    options: { fromIteration: number; toIteration: number; limit: number },
  ): Promise<{ points: MetricRecord[]; nextFrom: number | null }> {
    const { fromIteration, toIteration, limit } = options;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer (got ${String(limit)})`);
    if (toIteration < fromIteration) return { points: [], nextFrom: null };
    const rows = await this.db.prisma.metricPoint.findMany({
      where: { runId, iteration: { gte: fromIteration, lte: toIteration } },
      orderBy: { iteration: "asc" },
      take: limit + 1,
      select: { iteration: true, epoch: true, gReal: true, fake: true, real: true, msPerIter: true },
    });
    const more = rows.length > limit;
    return { points: more ? rows.slice(0, limit) : rows, nextFrom: more ? rows[limit]!.iteration : null };
  }

  /** The run's last `limit` points, in iteration order (read backwards through the primary key). */
  async metricsTail(runId: string, limit: number): Promise<MetricRecord[]> {
    const rows = await this.db.prisma.metricPoint.findMany({
      where: { runId },
      orderBy: { iteration: "desc" },
      take: limit,
      select: { iteration: true, epoch: true, gReal: true, fake: true, real: true, msPerIter: true },
    });
    return rows.reverse();
  }
}
