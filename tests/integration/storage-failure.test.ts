/**
 * When storage fails under a training run: a real SQLite database that fills up (PRAGMA max_page_count makes SQLite
 * itself answer "database or disk is full"), and a disk under the server's minimum free space (a real statfs of
 * DATA_DIR against a raised minimum). The run pauses with the reason, shown to every viewer; the server keeps
 * serving; once storage works again every loss point the trainer reported is in the database, none lost.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunStatusPush, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { startServer, type RunningServer } from "../../server/app";
import type { ServerEnv } from "../../server/env";
import { connect, errorCode, person, waitFor, type ClientSocket, type Person } from "../helpers/clients";
import { testEnv } from "../helpers/env";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-storage-"));
let env: ServerEnv;
let server: RunningServer;
let owner: Person;
let viewer: Person;
let sessionId: string;
let socket: ClientSocket;
const statuses: RunStatusPush[] = [];

const config = { network: "small-dcgan", diagnostics: false, batchSize: 8, limit: 48, maxEpoch: 10_000, seed: 9, sampleColumns: 2 };

beforeAll(async () => {
  env = testEnv(tmp);
  server = await startServer(env);
  owner = person(server.url);
  viewer = person(server.url);
  await owner.api.auth.signUp.mutate({ email: "sam@example.com", name: "Sam", password: "correct horse" });
  await viewer.api.auth.signUp.mutate({ email: "val@example.com", name: "Val", password: "battery staple" });
  sessionId = (await owner.api.sessions.create.mutate({ name: "Storage" })).id;
  const invite = await owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer" });
  await viewer.api.sessions.acceptInvite.mutate({ token: invite.token });
  socket = await connect(server.url, viewer.cookie());
  socket.on("run:status", (s) => statuses.push(s));
  await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId });
});

afterAll(async () => {
  socket?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const pragma = async (sql: string) => server.store.prisma.$queryRawUnsafe<Record<string, number>[]>(sql);

/** Every iteration 0..n-1 stored exactly once. */
async function storedIterations(runId: string): Promise<number[]> {
  const rows = await server.store.prisma.metricPoint.findMany({ where: { runId }, select: { iteration: true }, orderBy: { iteration: "asc" } });
  return rows.map((r) => r.iteration);
}

describe("storage failures", () => {
  it("a full database pauses the run with the reason for everyone, keeps every loss point, and resumes once it has room", async () => {
    const runId = (await owner.api.runs.create.mutate({ sessionId, name: "fills the disk", config })).id;
    const seen = new Set<number>();
    socket.on("run:losses", (p) => {
      if (p.runId === runId) for (const pt of p.points) seen.add(pt.iteration);
    });
    const running = waitFor(socket, "run:losses", (p) => p.runId === runId && p.points.some((pt) => pt.iteration >= 20), 120_000);
    await owner.api.runs.start.mutate({ runId });
    await running;

    // From now on SQLite cannot grow the file: inserts fail with SQLITE_FULL once the free pages are used.
    const [{ page_count: pages }] = (await pragma("PRAGMA page_count")) as [{ page_count: number }];
    await pragma(`PRAGMA max_page_count = ${pages}`);
    const paused = await waitFor(socket, "run:status", (s) => s.runId === runId && s.status === "paused" && /could not store/.test(s.reason ?? ""), 120_000);
    expect(paused.reason).toMatch(/full/i);
    // The server keeps serving while the database cannot grow; resuming is refused with the reason.
    const health = await fetch(`${server.url}/api/health`);
    expect(health.status).toBe(200);
    expect(await errorCode(owner.api.runs.resume.mutate({ runId }))).toBe("CONFLICT");
    const viewerSaw = [...seen];

    // Room again: the held writes go through by themselves, the run stays paused with why it paused.
    await pragma("PRAGMA max_page_count = 1073741823");
    await waitFor(socket, "run:status", (s) => s.runId === runId && /works again/.test(s.reason ?? ""), 30_000);
    const stored = await storedIterations(runId);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i));
    for (const it of viewerSaw) expect(stored).toContain(it);

    // An editor resumes: training goes on from where it stopped, still no gap.
    const more = waitFor(socket, "run:losses", (p) => p.runId === runId && p.points.some((pt) => pt.iteration > stored.length + 5), 120_000);
    await owner.api.runs.resume.mutate({ runId });
    await more;
    await owner.api.runs.stop.mutate({ runId });
    await waitFor(socket, "run:status", (s) => s.runId === runId && s.status === "stopped", 60_000);
    const after = await storedIterations(runId);
    expect(after).toEqual(Array.from({ length: after.length }, (_, i) => i));
  });

  it("a disk under the minimum free space pauses the run with the reason and refuses uploads and starts", async () => {
    const runId = (await owner.api.runs.create.mutate({ sessionId, name: "low disk", config })).id;
    const training = waitFor(socket, "run:losses", (p) => p.runId === runId, 120_000);
    await owner.api.runs.start.mutate({ runId });
    await training;
    const minimum = env.limits.GAN_MIN_FREE_DISK_MB;
    env.limits.GAN_MIN_FREE_DISK_MB = 1e9; // a petabyte: no disk here has that free
    try {
      const paused = await waitFor(socket, "run:status", (s) => s.runId === runId && s.status === "paused" && /disk/.test(s.reason ?? ""), 60_000);
      expect(paused.reason).toMatch(/MiB free/);
      expect(statuses.some((s) => s.runId === runId && s.reason === paused.reason)).toBe(true);
      const other = (await owner.api.runs.create.mutate({ sessionId, name: "refused", config })).id;
      expect(await errorCode(owner.api.runs.start.mutate({ runId: other }))).toBe("TOO_MANY_REQUESTS");
      expect(await errorCode(owner.api.datasets.upload.mutate(new Blob([new Uint8Array(1024)])))).toBe("TOO_MANY_REQUESTS");
    } finally {
      env.limits.GAN_MIN_FREE_DISK_MB = minimum;
    }
    await owner.api.runs.stop.mutate({ runId });
  });
});
