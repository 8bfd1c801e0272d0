/**
 * Run history for runs with a million points, through the real server (HTTP tRPC, socket.io, SQLite): `runs.history`
 * and the socket `join` reply are bounded (an overview of the whole run plus its last page at full resolution),
 * `runs.historyRange` pages through any range at full resolution with cursors, and a late joiner's live stream
 * continues the history with no gap and no duplicate while points are being written. The overview cache
 * (server/runs/overview.ts) matches a fresh SQL aggregate as the run grows, doubles its bucket width and rewinds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LossOverview, type LossPoint, type RunHistory, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { startServer, type RunningServer } from "../../server/app";
import { overviewWidth, type MetricInput } from "../../server/db/store";
import { DEFAULT_LIMITS } from "../../server/limits";
import { roomOf } from "../../server/realtime/socket";
import { OverviewCache } from "../../server/runs/overview";
import { connect, errorCode, person, type ClientSocket, type Person } from "../helpers/clients";
import { testDatabaseKind, testEnv } from "../helpers/env";

const N = 1_000_000;
const PAGE = DEFAULT_LIMITS.GAN_HISTORY_PAGE_POINTS;
const OVERVIEW = DEFAULT_LIMITS.GAN_HISTORY_OVERVIEW_POINTS;
/** One iteration whose GReal spikes: the overview must keep it visible. */
const SPIKE = 123_457;

// The losses of iteration i, computed the same way in SQL (for the bulk insert) and here (to check values exactly).
const gReal = (i: number) => (i === SPIKE ? 50 : 1 + (i % 97) / 100);
const fake = (i: number) => 0.5 + (i % 13) / 1000;
const real = (i: number) => 0.25 + i / 1e6;
const epochOf = (i: number) => Math.floor(i / 1000);
const expected = (i: number): LossPoint => ({ iteration: i, epoch: epochOf(i), gReal: gReal(i), fake: fake(i), real: real(i) });

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-history-"));
let server: RunningServer;
let owner: Person;
let stranger: Person;
let sessionId: string;
let runId: string;
const sockets: ClientSocket[] = [];

/**
 * Writes iterations [from, to] straight into the database in one statement: a million rows in ~2 s. SQLite: a
 * recursive CTE (integers, as Prisma binds numbers as REAL). PostgreSQL: generate_series, in double precision as
 * JavaScript computes (its decimal literals are exact NUMERIC: 0.25 + 999999 / 1e6 would be 1.249999 exactly).
 */
async function bulkInsert(id: string, from: number, to: number): Promise<void> {
  if (testDatabaseKind() === "postgresql") {
    await server.store.prisma.$executeRaw`
      INSERT INTO "MetricPoint" ("runId", "iteration", "epoch", "gReal", "fake", "real", "msPerIter")
      SELECT ${id}, i, i / 1000, CASE WHEN i = ${SPIKE}::int THEN 50.0::float8 ELSE 1.0::float8 + (i % 97)::float8 / 100.0::float8 END,
             0.5::float8 + (i % 13)::float8 / 1000.0::float8, 0.25::float8 + i::float8 / 1000000.0::float8, 10.0::float8
      FROM generate_series(${from}::int, ${to}::int) AS i`;
    return;
  }
  await server.store.prisma.$executeRaw`
    WITH RECURSIVE n(i) AS (SELECT CAST(${from} AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i < ${to})
    INSERT INTO "MetricPoint" ("runId", "iteration", "epoch", "gReal", "fake", "real", "msPerIter")
    SELECT ${id}, i, i / 1000, CASE WHEN i = ${SPIKE} THEN 50.0 ELSE 1.0 + (i % 97) / 100.0 END, 0.5 + (i % 13) / 1000.0, 0.25 + i / 1000000.0, 10.0 FROM n`;
}

const metric = (i: number): MetricInput => ({ ...expected(i), msPerIter: 10 });

function expectSameOverview(a: LossOverview, b: LossOverview): void {
  expect(a.bucket).toBe(b.bucket);
  expect(a.points.length).toBe(b.points.length);
  a.points.forEach((p, k) => {
    const q = b.points[k]!;
    expect([p.iteration, p.last, p.count, p.epoch]).toEqual([q.iteration, q.last, q.count, q.epoch]);
    expect(p.gReal).toBeCloseTo(q.gReal, 9);
    expect(p.real).toBeCloseTo(q.real, 9);
    expect(p.min).toEqual(q.min);
    expect(p.max).toEqual(q.max);
  });
}

beforeAll(async () => {
  server = await startServer(testEnv(tmp));
  owner = person(server.url);
  stranger = person(server.url);
  await owner.api.auth.signUp.mutate({ email: "ada@example.com", name: "Ada", password: "correct horse" });
  await stranger.api.auth.signUp.mutate({ email: "eve@example.com", name: "Eve", password: "battery staple" });
  sessionId = (await owner.api.sessions.create.mutate({ name: "Long runs" })).id;
  runId = (await owner.api.runs.create.mutate({ sessionId, name: "a million", config: { network: "small-dcgan", diagnostics: false } })).id;
  const t = performance.now();
  await bulkInsert(runId, 0, N - 1);
  console.log(`history.test: ${N} points inserted in ${Math.round(performance.now() - t)} ms`);
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("run history of a run with a million points", () => {
  let history: RunHistory;

  it("runs.history is bounded: an overview spanning iteration 0 to the last, and the last page at full resolution", async () => {
    // The server runs in this process: its event loop's longest stall while the first overview is aggregated.
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    let t = performance.now();
    history = await owner.api.runs.history.query({ runId });
    const firstMs = performance.now() - t;
    lag.disable();
    console.log(
      `history.test: event-loop delay during the first runs.history: max ${Math.round(lag.max / 1e6)} ms, p99 ${Math.round(lag.percentile(99) / 1e6)} ms`,
    );
    t = performance.now();
    const again = await owner.api.runs.history.query({ runId });
    const cachedMs = performance.now() - t;
    console.log(`history.test: runs.history ${Math.round(firstMs)} ms, again (cached overview) ${Math.round(cachedMs)} ms`);

    expect(history.losses.length).toBe(PAGE);
    expect(history.losses.map((p) => p.iteration)).toEqual(Array.from({ length: PAGE }, (_, k) => N - PAGE + k));
    expect(history.losses.at(-1)).toEqual(expected(N - 1));
    expect(history.lastIteration).toBe(N - 1);

    const ov = history.overview!;
    expect(ov.bucket).toBe(overviewWidth(N - 1, OVERVIEW)); // 512: the smallest power of two with ≤ 2000 buckets
    expect(ov.bucket).toBe(512);
    expect(ov.points.length).toBeLessThanOrEqual(OVERVIEW);
    expect(ov.points.length).toBe(Math.ceil(N / 512));
    expect(ov.points[0]!.iteration).toBe(0);
    expect(ov.points.at(-1)!.last).toBe(N - 1);
    expect(ov.points.reduce((a, p) => a + p.count, 0)).toBe(N);
    // Bucket 0 holds iterations 0..511: its exact mean, min and max.
    const first = Array.from({ length: 512 }, (_, i) => gReal(i));
    expect(ov.points[0]!.gReal).toBeCloseTo(first.reduce((a, b) => a + b, 0) / 512, 9);
    expect(ov.points[0]!.min.gReal).toBe(Math.min(...first));
    expect(ov.points[0]!.max.gReal).toBe(Math.max(...first));
    // The one-iteration spike stays visible as its bucket's max.
    const spiky = ov.points.find((p) => p.iteration <= SPIKE && SPIKE <= p.last)!;
    expect(spiky.max.gReal).toBe(50);
    expect(ov.points.filter((p) => p.max.gReal === 50)).toHaveLength(1);

    // The cached overview is the fresh SQL aggregate; the second answer is the same object.
    expectSameOverview(ov, await server.store.metricsOverview(runId, OVERVIEW));
    expect(again).toEqual(history);
    // Bounded on the wire too: (5000 points + 2000 buckets) as JSON, about a megabyte, not a million points.
    const res = await owner.fetch(`/api/trpc/runs.history?input=${encodeURIComponent(JSON.stringify({ runId }))}`);
    const bytes = (await res.arrayBuffer()).byteLength;
    console.log(`history.test: runs.history is ${bytes} bytes`);
    expect(bytes).toBeLessThan(2_000_000);
  });

  it("runs.historyRange pages through a range at full resolution with cursors, exact values", async () => {
    const from = 100_000;
    const to = 112_345;
    const pages: { points: LossPoint[]; nextFrom: number | null }[] = [];
    let cursor: number | null = from;
    while (cursor !== null) {
      const page: { points: LossPoint[]; nextFrom: number | null } = await owner.api.runs.historyRange.query({ runId, fromIteration: cursor, toIteration: to });
      pages.push(page);
      cursor = page.nextFrom;
    }
    expect(pages.map((p) => p.points.length)).toEqual([PAGE, PAGE, to - from + 1 - 2 * PAGE]);
    expect(pages.map((p) => p.nextFrom)).toEqual([from + PAGE, from + 2 * PAGE, null]);
    const all = pages.flatMap((p) => p.points);
    expect(all).toEqual(Array.from({ length: to - from + 1 }, (_, k) => expected(from + k)));
    // A range around the spike, and one past the end.
    expect((await owner.api.runs.historyRange.query({ runId, fromIteration: SPIKE, toIteration: SPIKE })).points).toEqual([expected(SPIKE)]);
    expect(await owner.api.runs.historyRange.query({ runId, fromIteration: N + 10, toIteration: N + 20 })).toEqual({ points: [], nextFrom: null });
  });

  it("runs.historyRange checks membership and its range", async () => {
    expect(await errorCode(stranger.api.runs.historyRange.query({ runId, fromIteration: 0, toIteration: 10 }))).toBe("FORBIDDEN");
    expect(await errorCode(owner.api.runs.historyRange.query({ runId, fromIteration: 10, toIteration: 9 }))).toBe("BAD_REQUEST");
    expect(await errorCode(owner.api.runs.historyRange.query({ runId, fromIteration: -1, toIteration: 9 }))).toBe("BAD_REQUEST");
    expect(await errorCode(owner.api.runs.historyRange.query({ runId: "no-such-run", fromIteration: 0, toIteration: 9 }))).toBe("NOT_FOUND");
    expect(await errorCode(stranger.api.runs.history.query({ runId }))).toBe("FORBIDDEN");
  });

  it("a socket join replies with the same bounded history", async () => {
    const s = await connect(server.url, owner.cookie());
    sockets.push(s);
    const reply = await s.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, runId });
    if (!("data" in reply)) throw new Error(reply.error.message);
    expect(reply.data.history).toEqual(history);
  });

  it("a late joiner while points are written: the history and the live stream join with no gap and no duplicate", async () => {
    // What the run service's flush does for a live run: write a batch, then push it to the session's room.
    let next = N;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const batch = Array.from({ length: 37 }, (_, k) => metric(next + k));
        await server.store.appendMetrics(runId, batch);
        next += batch.length;
        server.io.to(roomOf(sessionId)).emit("run:losses", { runId, points: batch.map(({ msPerIter: _ms, ...p }) => p) });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const joined: { history: RunHistory; live: LossPoint[] }[] = [];
    for (let j = 0; j < 3; j++) {
      await new Promise((r) => setTimeout(r, 60));
      const late = await connect(server.url, owner.cookie());
      sockets.push(late);
      const live: LossPoint[] = [];
      late.on("run:losses", (p) => live.push(...p.points));
      const reply = await late.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, runId });
      if (!("data" in reply)) throw new Error(reply.error.message);
      joined.push({ history: reply.data.history!, live });
    }
    await new Promise((r) => setTimeout(r, 200));
    writing = false;
    await writer;
    await new Promise((r) => setTimeout(r, 200)); // the last pushes arrive
    const end = next - 1;
    for (const { history: h, live } of joined) {
      expect(h.losses.length).toBe(PAGE);
      expect(h.overview!.points.length).toBeLessThanOrEqual(OVERVIEW);
      expect(h.lastIteration).toBe(h.losses.at(-1)!.iteration);
      expect(h.lastIteration!).toBeGreaterThanOrEqual(N - 1);
      const merged = [...h.losses, ...live.filter((p) => p.iteration > h.lastIteration!)];
      const start = h.losses[0]!.iteration;
      expect(merged.map((p) => p.iteration)).toEqual(Array.from({ length: end - start + 1 }, (_, k) => start + k));
      expect(merged.at(-1)).toEqual(expected(end));
      // The overview reaches the history's last iteration and no further.
      expect(h.overview!.points.at(-1)!.last).toBe(h.lastIteration);
    }
    // The cache followed the writes: the last history's overview is the fresh SQL aggregate up to the same point.
    const last = joined.at(-1)!.history;
    expectSameOverview(last.overview!, await server.store.metricsOverview(runId, OVERVIEW, { toIteration: last.lastIteration! }));
  });
});

describe("the overview cache", () => {
  it("matches a fresh SQL aggregate as a run grows (its bucket width doubling) and after a rewind", async () => {
    const id = (await owner.api.runs.create.mutate({ sessionId, name: "growing", config: { network: "small-dcgan", diagnostics: false } })).id;
    const cache = new OverviewCache(server.store, { maxPoints: 100, slice: 300 });
    const check = async (upTo: number) => {
      const got = await cache.overview(id, upTo);
      expect(got.points.length).toBeLessThanOrEqual(100);
      expectSameOverview(got, await server.store.metricsOverview(id, 100, { toIteration: upTo }));
      return got;
    };
    await server.store.appendMetrics(
      id,
      Array.from({ length: 250 }, (_, i) => metric(i)),
    );
    expect((await check(249)).bucket).toBe(4);
    await server.store.appendMetrics(
      id,
      Array.from({ length: 2_750 }, (_, i) => metric(250 + i)),
    );
    expect((await check(2_999)).bucket).toBe(32);
    // A hole (iterations 3000..3099 missing), then later points; then the hole is filled, as a resumed run does.
    await server.store.appendMetrics(
      id,
      Array.from({ length: 400 }, (_, i) => metric(3_100 + i)),
    );
    await check(3_499);
    await server.store.appendMetrics(
      id,
      Array.from({ length: 100 }, (_, i) => metric(3_000 + i)),
    );
    cache.rewind(id, 3_000);
    const full = await check(3_499);
    expect(full.points.reduce((a, p) => a + p.count, 0)).toBe(3_500);
    // Concurrent requests for one run are answered in turn, the same.
    const [a, b] = await Promise.all([cache.overview(id, 3_499), cache.overview(id, 3_499)]);
    expect(a).toEqual(b);
  });
});
