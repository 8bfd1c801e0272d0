/**
 * Quotas on sessions, runs, trainer and RuntimeGenerator processes, through the real server (real trainer and
 * generator processes, real socket.io clients): refusals are TOO_MANY_REQUESTS (429 on the PNG route) with the quota
 * in words and in `data.quota`; with one trainer slot a second run waits in a queue every member sees and starts by
 * itself when the first ends; generate requests never fork a process for a run without weights, and a burst on one
 * run is cut at the per-run queue while the server keeps answering.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunStatusPush, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { startServer, type RunningServer } from "../../server/app";
import { connect, errorCode, person, waitFor, type ClientSocket, type Person } from "../helpers/clients";
import { testEnv } from "../helpers/env";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-quotas-"));
let server: RunningServer;
let olga: Person;
let max: Person;
let sessionA: string;
let sessionB: string;
let maxSocket: ClientSocket;
const runs: Record<string, string> = {};

const tinyConfig = { network: "small-dcgan", diagnostics: false, batchSize: 8, limit: 48, maxEpoch: 400, seed: 3, sampleColumns: 2 };

beforeAll(async () => {
  server = await startServer(
    testEnv(tmp, {
      GAN_MAX_LIVE_TRAINERS: "1",
      GAN_MAX_LIVE_TRAINERS_PER_SESSION: "2",
      GAN_MAX_LIVE_TRAINERS_PER_USER: "3",
      GAN_MAX_QUEUED_RUNS: "1",
      GAN_MAX_GENERATORS: "2",
      GAN_MAX_GENERATOR_QUEUE: "2",
      GAN_MAX_SESSIONS_PER_USER: "2",
      GAN_MAX_RUNS_PER_SESSION: "3",
      GAN_MAX_RUNS_PER_USER: "5",
    }),
  );
  olga = person(server.url);
  max = person(server.url);
  await olga.api.auth.signUp.mutate({ email: "olga@example.com", name: "Olga", password: "correct horse" });
  await max.api.auth.signUp.mutate({ email: "max@example.com", name: "Max", password: "battery staple" });
});

afterAll(async () => {
  maxSocket?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The tRPC code and `data.quota` of a refused call. */
async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string; quota: { name: string; limit: number; used: number } | null }> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof TRPCClientError)) throw e;
    const data = e.data as { code: string; quota?: { name: string; limit: number; used: number } | null };
    return { code: data.code, message: e.message, quota: data.quota ?? null };
  }
  throw new Error("expected the call to be refused");
}

/** RuntimeGenerator processes this server (the test's own process) has alive now. */
function generatorProcesses(): number {
  let out = "";
  try {
    out = execFileSync("ps", ["--ppid", String(process.pid), "-o", "args="], { encoding: "utf8" });
  } catch {
    return 0; // ps exits 1 when the process has no children
  }
  return out.split("\n").filter((l) => l.includes("generator-child")).length;
}

const health = async () => (await (await fetch(`${server.url}/api/health`)).json()) as { liveRuns: number; queuedRuns: number; generators: number };

describe("quotas", () => {
  it("a user owns at most GAN_MAX_SESSIONS_PER_USER sessions", async () => {
    sessionA = (await olga.api.sessions.create.mutate({ name: "A" })).id;
    sessionB = (await olga.api.sessions.create.mutate({ name: "B" })).id;
    const r = await refusal(olga.api.sessions.create.mutate({ name: "C" }));
    expect(r).toMatchObject({ code: "TOO_MANY_REQUESTS", quota: { name: "sessions", limit: 2, used: 2 } });
    expect(r.message).toMatch(/you already own 2 sessions/);
    expect((await olga.api.sessions.list.query()).map((s) => s.name).sort()).toEqual(["A", "B"]);
    // Max is an editor of A and watches it live.
    const invite = await olga.api.sessions.createInvite.mutate({ sessionId: sessionA, role: "editor" });
    await max.api.sessions.acceptInvite.mutate({ token: invite.token });
    maxSocket = await connect(server.url, max.cookie());
    expect(await maxSocket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: sessionA })).toMatchObject({ data: { role: "editor" } });
  });

  it("a session holds at most GAN_MAX_RUNS_PER_SESSION runs, a user creates at most GAN_MAX_RUNS_PER_USER", async () => {
    for (const name of ["r1", "r2", "r3"]) runs[name] = (await olga.api.runs.create.mutate({ sessionId: sessionA, name, config: tinyConfig })).id;
    const perSession = await refusal(olga.api.runs.create.mutate({ sessionId: sessionA, name: "r4", config: tinyConfig }));
    expect(perSession).toMatchObject({ code: "TOO_MANY_REQUESTS", quota: { name: "runs", limit: 3, used: 3 } });
    expect(perSession.message).toMatch(/this session already holds 3 runs/);
    for (const name of ["r4", "r5"]) runs[name] = (await olga.api.runs.create.mutate({ sessionId: sessionB, name, config: tinyConfig })).id;
    const perUser = await refusal(olga.api.runs.create.mutate({ sessionId: sessionB, name: "r6", config: tinyConfig }));
    expect(perUser).toMatchObject({ code: "TOO_MANY_REQUESTS", quota: { name: "runs", limit: 5, used: 5 } });
    expect((await olga.api.sessions.get.query({ sessionId: sessionB })).runs).toHaveLength(2);
  });

  it("with one trainer slot a second run is queued, every member sees its place, and it starts by itself when the first stops", async () => {
    const r1Losses = waitFor(maxSocket, "run:losses", (p) => p.runId === runs.r1 && p.points.some((x) => x.iteration >= 2), 180_000);
    expect(await olga.api.runs.start.mutate({ runId: runs.r1! })).toEqual({ ok: true, queued: false, queuePosition: null });

    const queuedPush = waitFor(maxSocket, "run:status", (s) => s.runId === runs.r2 && s.status === "queued");
    expect(await olga.api.runs.start.mutate({ runId: runs.r2! })).toEqual({ ok: true, queued: true, queuePosition: 0 });
    expect(await queuedPush).toMatchObject({ status: "queued", queuePosition: 0 });
    expect((await olga.api.runs.get.query({ runId: runs.r2! })).run.status).toBe("queued");
    // A late joiner reads the place in the history too.
    const late = await connect(server.url, max.cookie());
    const joined = await late.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: sessionA, runId: runs.r2 });
    late.close();
    expect("data" in joined && joined.data.history?.run).toMatchObject({ status: "queued", queuePosition: 0 });
    expect(await health()).toMatchObject({ liveRuns: 1, queuedRuns: 1 });

    // The session's share (live and queued runs) is full: refused at once, nothing changes.
    const perSession = await refusal(olga.api.runs.start.mutate({ runId: runs.r3! }));
    expect(perSession).toMatchObject({ code: "TOO_MANY_REQUESTS", quota: { name: "liveTrainers", limit: 2, used: 2 } });
    expect(perSession.message).toMatch(/this session already trains 2 runs/);
    expect((await olga.api.runs.get.query({ runId: runs.r3! })).run.status).toBe("idle");
    // Another session, another user: the queue itself is full.
    const maxSession = (await max.api.sessions.create.mutate({ name: "Max's" })).id;
    const r7 = await max.api.runs.create.mutate({ sessionId: maxSession, name: "r7", config: tinyConfig });
    expect(await refusal(max.api.runs.start.mutate({ runId: r7.id }))).toMatchObject({
      code: "TOO_MANY_REQUESTS",
      quota: { name: "queue", limit: 1, used: 1 },
    });
    // Pausing a queued run makes no sense; starting it twice neither.
    expect(await errorCode(olga.api.runs.pause.mutate({ runId: runs.r2! }))).toBe("CONFLICT");
    expect(await errorCode(olga.api.runs.start.mutate({ runId: runs.r2! }))).toBe("CONFLICT");

    await r1Losses;
    const r2Running = waitFor(maxSocket, "run:status", (s) => s.runId === runs.r2 && s.status === "running", 180_000);
    await olga.api.runs.stop.mutate({ runId: runs.r1! });
    const running = await r2Running;
    expect(running.queuePosition).toBeUndefined();
    const entries = await olga.api.sessions.activity.query({ sessionId: sessionA, runId: runs.r2 });
    expect(entries.map((e) => e.kind)).toEqual(expect.arrayContaining(["run.queued", "run.started"]));
    expect(entries.find((e) => e.kind === "run.started")).toMatchObject({ userName: "Olga", detail: { fromQueue: true } });
    expect((await olga.api.runs.get.query({ runId: runs.r1! })).run.status).toBe("stopped");
    expect(await health()).toMatchObject({ liveRuns: 1, queuedRuns: 0 });
  });

  it("a queued run can be stopped: it leaves the queue and gets back the status it had", async () => {
    const socketB = await connect(server.url, olga.cookie());
    await socketB.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: sessionB });
    const pushes: RunStatusPush[] = [];
    socketB.on("run:status", (s) => pushes.push(s));
    expect(await olga.api.runs.start.mutate({ runId: runs.r4! })).toMatchObject({ queued: true, queuePosition: 0 });
    const back = waitFor(socketB, "run:status", (s) => s.runId === runs.r4 && s.status === "idle");
    await olga.api.runs.stop.mutate({ runId: runs.r4! });
    expect(await back).not.toHaveProperty("queuePosition");
    socketB.close();
    expect(pushes.map((s) => [s.status, s.queuePosition])).toEqual([
      ["queued", 0],
      ["idle", undefined],
    ]);
    expect((await olga.api.runs.get.query({ runId: runs.r4! })).run.status).toBe("idle");
    expect(await health()).toMatchObject({ queuedRuns: 0 });

    // r2 trains a little, then stops (it will serve the RuntimeGenerator from its checkpoint).
    await waitFor(maxSocket, "run:losses", (p) => p.runId === runs.r2 && p.points.some((x) => x.iteration >= 2), 180_000);
    const stopped = waitFor(maxSocket, "run:status", (s) => s.runId === runs.r2 && s.status === "stopped", 120_000);
    await olga.api.runs.stop.mutate({ runId: runs.r2! });
    await stopped;
  });

  it("generate requests on runs without weights fork no process: CONFLICT", async () => {
    const before = (server.runs as unknown as { deps: { generators: { forks: number } } }).deps.generators.forks;
    const never = [runs.r3!, runs.r4!, runs.r5!];
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => olga.fetch(`/api/runs/${never[i % 3]}/generate?label=1`)));
    expect(replies.map((r) => r.status)).toEqual(Array(12).fill(409));
    const body = (await replies[0]!.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/no weights yet/) });
    expect(await errorCode(olga.api.runs.generate.query({ runId: runs.r3!, label: 1 }))).toBe("CONFLICT");
    expect((server.runs as unknown as { deps: { generators: { forks: number } } }).deps.generators.forks).toBe(before);
    expect(generatorProcesses()).toBe(0);
    expect(await health()).toMatchObject({ generators: 0 });
  });

  it("a burst on one run past GAN_MAX_GENERATOR_QUEUE gets 429s while the server keeps answering", async () => {
    const burst = Promise.all(Array.from({ length: 12 }, (_, i) => olga.fetch(`/api/runs/${runs.r1}/generate?label=${i % 10}&seed=${i}`)));
    const t0 = Date.now();
    const h = await fetch(`${server.url}/api/health`);
    expect(h.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const replies = await burst;
    const statuses = replies.map((r) => r.status);
    expect(
      statuses.every((s) => s === 200 || s === 429),
      statuses.join(","),
    ).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    const refused = replies.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(((await refused.json()) as { error: unknown }).error).toMatchObject({
      code: "TOO_MANY_REQUESTS",
      message: expect.stringMatching(/already has 2 requests waiting/),
      quota: { name: "generators", limit: 2, used: 2, retryAfterSeconds: 1 },
    });
    expect((await olga.fetch(`/api/runs/${runs.r1}/generate?label=3`)).status).toBe(200);
  });

  it("at most GAN_MAX_GENERATORS processes: a third run's lets the least recently used one go", async () => {
    // r3 never trained; give it r1's checkpoint so that three runs have weights.
    cpSync(path.join(tmp, "runs", runs.r1!, "latest"), path.join(tmp, "runs", runs.r3!, "latest"), { recursive: true });
    const forks = () => (server.runs as unknown as { deps: { generators: { forks: number } } }).deps.generators.forks;
    const before = forks();
    for (const runId of [runs.r2!, runs.r1!, runs.r3!, runs.r2!]) {
      expect((await olga.fetch(`/api/runs/${runId}/generate?label=2`)).status).toBe(200);
      expect(generatorProcesses()).toBeLessThanOrEqual(2);
    }
    expect(generatorProcesses()).toBe(2);
    expect(await health()).toMatchObject({ generators: 2 });
    // r1's process is alive from the burst: r2 forks, r1 reuses, r3 lets r2 go (least recently used), r2 lets r1 go.
    expect(forks() - before).toBe(3);
  });
});
