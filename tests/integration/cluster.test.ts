/**
 * A cluster of two web processes (`tsx server/index.ts`, real processes) on one PostgreSQL and one Redis, both started
 * by the test on loopback, sharing one data folder. The run trains as a child of process 1; members use process 2:
 * the losses reach them through the Redis adapter, their controls reach the trainer through process 1, a viewer's are
 * refused, a late joiner gets the whole history; a Redis restart mid-run loses no acknowledged point; process 1 killed
 * with SIGKILL leaves its run interrupted, resumed from process 2 with no acknowledged point lost.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LossPoint, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { type RedisServer, startRedis } from "../../server/cluster/redis";
import type { DatasetProgressPush } from "../../lib/protocol/socket";
import { type ClientSocket, connect, errorCode, type Person, person, waitFor } from "../helpers/clients";
import { testEnvVars } from "../helpers/env";
import { idxPair, labelsOf } from "../helpers/idx-fixtures";
import { freshPostgresDatabase } from "../helpers/postgres";
import { failedStart, killAll, startServerProcess, untilCheckpointRecorded } from "../helpers/server-process";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-cluster-"));
const sockets: ClientSocket[] = [];
let redis: RedisServer;
let databaseUrl: string;

beforeAll(async () => {
  databaseUrl = await freshPostgresDatabase("cluster");
  redis = await startRedis();
});
afterAll(async () => {
  for (const s of sockets) s.close();
  killAll();
  await redis?.kill();
  rmSync(tmp, { recursive: true, force: true });
});

/** Starts one web process of the cluster. */
const startNode = (id: string, vars: Record<string, string> = {}) =>
  startServerProcess(testEnvVars(tmp, { DATABASE_URL: databaseUrl, REDIS_URL: redis.url, GAN_NODE_ID: id, ...vars }), `process ${id}`);

/** A person on the process at `url`: a new account (`name` given), or the same account signed in there. */
async function account(url: string, email: string, name?: string): Promise<Person> {
  const p = person(url);
  if (name) await p.api.auth.signUp.mutate({ email, name, password: "correct horse" });
  else await p.api.auth.signIn.mutate({ email, password: "correct horse" });
  return p;
}

/** Names of the users a presence push lists, sorted. */
const names = (p: { users: { name: string }[] }) =>
  p.users
    .map((u) => u.name)
    .sort()
    .join();

/** Every iteration of the run stored in the database. */
const storedIterations = async (member: Person, runId: string) =>
  new Set((await member.api.runs.historyRange.query({ runId, fromIteration: 0, toIteration: 1_000_000 })).points.map((p) => p.iteration));

const tiny = { network: "small-dcgan", diagnostics: false, batchSize: 8, limit: 48, maxEpoch: 400, seed: 3, sampleColumns: 2 };

async function joined(url: string, cookie: string, sessionId: string, runId: string) {
  const socket = await connect(url, cookie);
  sockets.push(socket);
  const received: LossPoint[] = [];
  socket.on("run:losses", (p) => received.push(...p.points));
  const join = await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, runId });
  if (!("data" in join)) throw new Error(`join refused: ${JSON.stringify(join)}`);
  return { socket, received, history: join.data.history! };
}

describe("a cluster of two web processes on one PostgreSQL and one Redis", () => {
  it("shares a live run across processes; controls cross over; survives a Redis restart and a killed process", async () => {
    const [p1, p2] = await Promise.all([startNode("p1"), startNode("p2")]);
    for (const [p, id] of [
      [p1, "p1"],
      [p2, "p2"],
    ] as const) {
      const health = (await (await fetch(`${p.url}/api/health`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ ok: true, database: { kind: "postgresql", ok: true }, cluster: { node: id, redis: { ok: true } } });
    }

    // Rate limits count across processes: 5 wrong passwords through each process fill the account's window of 10,
    // so even the right one is refused (counted per process, each would be at 5 and let it in).
    const eve1 = person(p1.url);
    await eve1.api.auth.signUp.mutate({ email: "eve@example.com", name: "Eve", password: "correct horse" });
    const eve2 = person(p2.url);
    for (const eve of [eve1, eve2]) {
      for (let i = 0; i < 5; i++)
        expect(await errorCode(eve.api.auth.signIn.mutate({ email: "eve@example.com", password: "wrong horse" }))).toBe("UNAUTHORIZED");
    }
    expect(await errorCode(eve2.api.auth.signIn.mutate({ email: "eve@example.com", password: "correct horse" }))).toBe("TOO_MANY_REQUESTS");
    expect(await errorCode(eve1.api.auth.signIn.mutate({ email: "eve@example.com", password: "correct horse" }))).toBe("TOO_MANY_REQUESTS");

    // Ada (owner) on process 1, and the same Ada signed in on process 2; Vic (viewer) on process 2.
    const ada1 = await account(p1.url, "ada@example.com", "Ada");
    const ada2 = await account(p2.url, "ada@example.com");
    const vic = await account(p2.url, "vic@example.com", "Vic");
    const session = await ada1.api.sessions.create.mutate({ name: "Cluster" });
    const invite = await ada1.api.sessions.createInvite.mutate({ sessionId: session.id, role: "viewer" });
    await vic.api.sessions.acceptInvite.mutate({ token: invite.token });
    const run = await ada1.api.runs.create.mutate({ sessionId: session.id, name: "tiny", config: tiny });

    const v = await joined(p2.url, vic.cookie(), session.id, run.id);
    const statuses: string[] = [];
    v.socket.on("run:status", (s) => statuses.push(s.status));
    // Presence across processes: Ada watching through process 1 is in the list Vic sees on process 2.
    const both = waitFor(v.socket, "presence", (p) => names(p) === "Ada,Vic");
    await joined(p1.url, ada1.cookie(), session.id, run.id); // stays open until process 1 dies
    await both;
    expect((await vic.api.sessions.get.query({ sessionId: session.id })).watching.map((u) => u.name).sort()).toEqual(["Ada", "Vic"]);
    await ada1.api.runs.start.mutate({ runId: run.id }); // its trainer: a child of process 1
    // Losses pushed by process 1 reach a viewer connected to process 2.
    await waitFor(v.socket, "run:losses", (p) => p.points.some((x) => x.iteration >= 12));
    // Process 2 does not start a second trainer for a run process 1 trains.
    expect(await errorCode(ada2.api.runs.start.mutate({ runId: run.id }))).toBe("CONFLICT");

    // A viewer on process 2 cannot control it; nothing changes.
    expect(await errorCode(vic.api.runs.pause.mutate({ runId: run.id }))).toBe("FORBIDDEN");
    expect(await errorCode(vic.api.runs.setLrMultiplier.mutate({ runId: run.id, scope: "Deconvolution", param: "W", value: 0 }))).toBe("FORBIDDEN");

    // The editor on process 2 pauses the run trained under process 1: the viewer on process 2 sees "paused" and the marker.
    const paused = waitFor(v.socket, "run:status", (s) => s.runId === run.id && s.status === "paused");
    const marker = waitFor(v.socket, "activity", (a) => a.kind === "run.pause");
    await ada2.api.runs.pause.mutate({ runId: run.id });
    const [status, entry] = await Promise.all([paused, marker]);
    expect(entry).toMatchObject({ userName: "Ada", runId: run.id, iteration: status.iteration });
    expect((await vic.api.runs.get.query({ runId: run.id })).run.status).toBe("paused");

    // A multiplier changed from process 2 takes effect with its iteration, seen on process 2.
    const changed = waitFor(v.socket, "run:parameters", (p) => p.runId === run.id && p.change.kind === "lrMultiplier");
    await ada2.api.runs.setLrMultiplier.mutate({ runId: run.id, scope: "Deconvolution", param: "W", value: 0.5 });
    expect((await changed).change).toMatchObject({ kind: "lrMultiplier", scope: "Deconvolution", param: "W", from: 1, to: 0.5 });
    await ada2.api.runs.resume.mutate({ runId: run.id });

    // A late joiner on process 2: the whole history, then the live stream, no gap, no duplicate.
    const late = await joined(p2.url, vic.cookie(), session.id, run.id);
    const last = late.history.lastIteration!;
    expect(late.history.losses.map((p) => p.iteration)).toEqual(Array.from({ length: last + 1 }, (_, i) => i));
    await waitFor(late.socket, "run:losses", (p) => p.points.some((x) => x.iteration >= last + 6));
    const seen = [...late.history.losses.map((p) => p.iteration), ...late.received.map((p) => p.iteration).filter((i) => i > last)];
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i));

    // Redis restarts mid-run (it keeps nothing): training goes on, the pushes come back, every point is stored,
    // and presence is whole again.
    const redisLost = waitFor(v.socket, "services", (s) => s.redis?.ok === false, 30_000);
    await redis.kill();
    // The viewer's page is told by its own process (the banner), and told again once Redis is back.
    expect(await redisLost).toMatchObject({ database: { kind: "postgresql", ok: true }, redis: { ok: false } });
    const presentAgain = waitFor(v.socket, "presence", (p) => names(p) === "Ada,Vic", 30_000);
    const redisBack = waitFor(v.socket, "services", (s) => s.redis?.ok === true, 30_000);
    await redis.start();
    await Promise.all([presentAgain, redisBack]);
    const before = v.received.length;
    await waitFor(v.socket, "run:losses", () => v.received.length > before, 30_000);
    const stored1 = await storedIterations(ada1, run.id);
    expect(v.received.map((p) => p.iteration).filter((i) => !stored1.has(i))).toEqual([]);
    const health2 = (await (await fetch(`${p2.url}/api/health`)).json()) as { cluster: { redis: { ok: boolean } } };
    expect(health2.cluster.redis.ok).toBe(true);
    // The restarted Redis held no leases for a moment: the run trained on, nobody marked it interrupted.
    await new Promise((r) => setTimeout(r, 9_000));
    expect(statuses).not.toContain("interrupted");
    expect((await vic.api.runs.get.query({ runId: run.id })).run.status).toBe("running");

    // Process 1 (the trainer's parent) is killed: its lease expires, process 2 marks the run interrupted by itself.
    await waitFor(v.socket, "run:grid", (g) => g.runId === run.id && g.epoch >= 2);
    await untilCheckpointRecorded(vic, run.id);
    const interrupted = waitFor(v.socket, "run:status", (s) => s.runId === run.id && s.status === "interrupted", 40_000);
    // Ada's connection went with process 1: she leaves the list once its lease is gone.
    const aloneAgain = waitFor(v.socket, "presence", (p) => names(p) === "Vic", 40_000);
    const killedAt = Date.now();
    p1.child.kill("SIGKILL");
    await Promise.all([interrupted, aloneAgain]);
    // Not before its lease (8 s, renewed every 2 s) could have expired, and not long after.
    expect(Date.now() - killedAt).toBeGreaterThan(5_000);
    const acknowledged = v.received.map((p) => p.iteration);
    const stored = await storedIterations(ada2, run.id);
    expect(acknowledged.filter((i) => !stored.has(i))).toEqual([]);

    // Resumed from process 2, from its last checkpoint.
    const resumed = waitFor(v.socket, "run:losses", () => true);
    await ada2.api.runs.start.mutate({ runId: run.id });
    const first = Math.min(...(await resumed).points.map((p) => p.iteration));
    expect(first % 6).toBe(0);
    expect((await ada2.api.runs.get.query({ runId: run.id })).run.status).toBe("running");
    await ada2.api.runs.stop.mutate({ runId: run.id });
    await waitFor(v.socket, "run:status", (s) => s.runId === run.id && s.status === "stopped");
  });

  it("imports through one process what was uploaded to another; its progress reaches members on both; quotas count once", async () => {
    const oneTrainerPerSession = { GAN_MAX_LIVE_TRAINERS_PER_SESSION: "1" };
    const [p1, p2] = await Promise.all([startNode("u1", oneTrainerPerSession), startNode("u2", oneTrainerPerSession)]);
    const ada1 = await account(p1.url, "ada.upload@example.com", "Ada");
    const ada2 = await account(p2.url, "ada.upload@example.com");
    const bob = await account(p1.url, "bob.upload@example.com", "Bob");
    const session = await ada1.api.sessions.create.mutate({ name: "Uploads" });
    await bob.api.sessions.acceptInvite.mutate({ token: (await ada1.api.sessions.createInvite.mutate({ sessionId: session.id, role: "editor" })).token });
    // Bob watches the session through process 1, Ada through process 2.
    const watchers: ClientSocket[] = [];
    for (const [url, cookie] of [
      [p1.url, bob.cookie()],
      [p2.url, ada2.cookie()],
    ] as const) {
      const socket = await connect(url, cookie);
      sockets.push(socket);
      await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: session.id });
      watchers.push(socket);
    }
    const pushes: DatasetProgressPush[] = [];
    watchers[0]!.on("dataset:progress", (p) => pushes.push(p));
    const doneOn = watchers.map((s) => waitFor(s, "dataset:progress", (p) => p.importId === "import-cluster-01" && p.phase === "done"));

    // The images go to process 1, the labels to process 2; the import goes through process 2.
    const pair = idxPair(labelsOf([12, 12]));
    const images = await ada1.api.datasets.upload.mutate(new Blob([Buffer.from(pair.images)]));
    const labels = await ada2.api.datasets.upload.mutate(new Blob([Buffer.from(pair.labels)]));
    // Someone else cannot use them through either process.
    const bob2 = await account(p2.url, "bob.upload@example.com");
    const theft = { sessionId: session.id, importId: "import-theft-001", files: [{ uploadId: images.uploadId, name: "train-images-idx3-ubyte" }] };
    expect(await errorCode(bob2.api.datasets.import.mutate(theft))).toBe("NOT_FOUND");
    const files = [
      { uploadId: images.uploadId, name: "train-images-idx3-ubyte" },
      { uploadId: labels.uploadId, name: "train-labels-idx1-ubyte" },
    ];
    const result = await ada2.api.datasets.import.mutate({ sessionId: session.id, importId: "import-cluster-01", name: "pairs", files });
    expect(result.dataset).toMatchObject({ name: "pairs", count: 24, perLabel: [12, 12], importedBy: "Ada" });
    await Promise.all(doneOn);
    expect(pushes.map((p) => p.phase)).toContain("decoding");
    // Process 1 lists it, and the uploads are spent on both processes.
    expect((await bob.api.datasets.list.query({ sessionId: session.id })).map((d) => d.name)).toContain("pairs");
    expect(await errorCode(ada1.api.datasets.import.mutate({ sessionId: session.id, importId: "import-cluster-02", files }))).toBe("NOT_FOUND");

    // A user's waiting uploads count once across processes: 8 waiting (4 through each) refuse the 9th on either.
    for (let i = 0; i < 8; i++) await (i % 2 ? ada2 : ada1).api.datasets.upload.mutate(new Blob([Buffer.from(pair.labels)]));
    expect(await errorCode(ada1.api.datasets.upload.mutate(new Blob([Buffer.from(pair.labels)])))).toBe("TOO_MANY_REQUESTS");
    expect(await errorCode(ada2.api.datasets.upload.mutate(new Blob([Buffer.from(pair.labels)])))).toBe("TOO_MANY_REQUESTS");

    // A session's share of trainers counts across processes: its one run training under process 1 refuses a second
    // started through process 2 (each process alone would allow one).
    const first = await ada1.api.runs.create.mutate({ sessionId: session.id, name: "first", config: tiny });
    const second = await ada2.api.runs.create.mutate({ sessionId: session.id, name: "second", config: tiny });
    await ada1.api.runs.start.mutate({ runId: first.id });
    await waitFor(watchers[1]!, "run:status", (s) => s.runId === first.id && s.status === "running", 60_000);
    const refused = ada2.api.runs.start.mutate({ runId: second.id });
    await expect(refused).rejects.toThrow(/this session already trains 1 run \(queued runs count; the limit is 1\)/);
    expect(await errorCode(ada2.api.runs.start.mutate({ runId: second.id }))).toBe("TOO_MANY_REQUESTS");
    await ada2.api.runs.stop.mutate({ runId: first.id });
    await waitFor(watchers[1]!, "run:status", (s) => s.runId === first.id && s.status === "stopped", 60_000);
    p1.child.kill("SIGKILL");
    p2.child.kill("SIGKILL");
  });

  it("a wrong REDIS_URL, or REDIS_URL with a SQLite database, stops the start with a message naming it", async () => {
    const attempt = (vars: Record<string, string>) => failedStart(testEnvVars(mkdtempSync(path.join(tmp, "bad-")), vars));
    const unreachable = await attempt({ DATABASE_URL: databaseUrl, REDIS_URL: "redis://:hunter2@127.0.0.1:1" });
    expect(unreachable.code).toBe(1);
    expect(unreachable.out).toMatch(/REDIS_URL redis:\/\/:\*\*\*@127\.0\.0\.1:1: cannot connect to Redis/);
    expect(unreachable.out).not.toMatch(/hunter2|\n\s+at /); // no password, no stack
    const sqlite = await attempt({ REDIS_URL: redis.url });
    expect(sqlite.code).toBe(1);
    expect(sqlite.out).toMatch(/REDIS_URL is set .* but DATABASE_URL is not PostgreSQL/);
    const badDb = await attempt({ DATABASE_URL: "postgresql://gan@127.0.0.1:1/gan" });
    expect(badDb.code).toBe(1);
    expect(badDb.out).toMatch(/DATABASE_URL postgresql:\/\/gan@127\.0\.0\.1:1\/gan: cannot connect to PostgreSQL/);
  });
});
