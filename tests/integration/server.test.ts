/**
 * The live session server end to end: a real HTTP server on an ephemeral port, a real SQLite file, real
 * socket.io clients, real trainer processes training the small DCGAN on 48 digits (wasm).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LossPoint, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { readCheckpoint } from "../../lib/gan/checkpoint";
import { startServer, type RunningServer } from "../../server/app";
import { connect, errorCode, person, waitFor, type ClientSocket, type Person } from "../helpers/clients";
import { testDatabaseKind, testEnv } from "../helpers/env";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-server-"));
let server: RunningServer;
let owner: Person;
let viewer: Person;
let sessionId: string;
let runId: string;
const sockets: ClientSocket[] = [];

const tinyConfig = { network: "small-dcgan", diagnostics: false, batchSize: 8, limit: 48, maxEpoch: 400, seed: 3, sampleColumns: 2 };

beforeAll(async () => {
  server = await startServer(testEnv(tmp));
  owner = person(server.url);
  viewer = person(server.url);
  await owner.api.auth.signUp.mutate({ email: "ada@example.com", name: "Ada", password: "correct horse" });
  await viewer.api.auth.signUp.mutate({ email: "vic@example.com", name: "Vic", password: "battery staple" });
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const open = async (p: Person) => {
  const s = await connect(server.url, p.cookie());
  sockets.push(s);
  return s;
};

describe("the live session server", () => {
  it("reports its health with the database state, the trainers' backend and live runs", async () => {
    const res = await fetch(`${server.url}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, database: { kind: testDatabaseKind(), ok: true }, backend: "wasm", trainerBackend: null, liveRuns: 0 });
  });

  it("signs people in with a sealed HTTP-only cookie and refuses wrong passwords", async () => {
    expect(owner.cookie()).toMatch(/^gan_studio=Fe26\./);
    expect(await owner.api.auth.me.query()).toMatchObject({ name: "Ada", email: "ada@example.com" });
    const stranger = person(server.url);
    expect(await errorCode(stranger.api.auth.signIn.mutate({ email: "ada@example.com", password: "wrong password" }))).toBe("UNAUTHORIZED");
    expect(await errorCode(stranger.api.sessions.list.query())).toBe("UNAUTHORIZED");
    expect(await errorCode(stranger.api.auth.signUp.mutate({ email: "not-an-email", name: "x", password: "12345678" }))).toBe("BAD_REQUEST");
  });

  it("creates a session, invites a viewer by link, and the link can be revoked", async () => {
    const session = await owner.api.sessions.create.mutate({ name: "Digits" });
    sessionId = session.id;
    expect(await errorCode(viewer.api.sessions.get.query({ sessionId }))).toBe("FORBIDDEN");
    const invite = await owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer" });
    expect(await errorCode(viewer.api.sessions.createInvite.mutate({ sessionId, role: "editor" }))).toBe("FORBIDDEN");
    expect(await viewer.api.sessions.acceptInvite.mutate({ token: invite.token })).toEqual({ sessionId, role: "viewer" });
    const other = await owner.api.sessions.createInvite.mutate({ sessionId, role: "editor" });
    await owner.api.sessions.revokeInvite.mutate({ sessionId, inviteId: other.id });
    expect(await errorCode(viewer.api.sessions.acceptInvite.mutate({ token: other.token }))).toBe("NOT_FOUND");
    expect((await viewer.api.sessions.get.query({ sessionId })).role).toBe("viewer");
  });

  it("rejects a bad Config with the field's path and keeps nothing", async () => {
    const bad = owner.api.runs.create.mutate({ sessionId, name: "bad", config: { batchSize: 0, maxEpochs: 3 } });
    await expect(bad).rejects.toMatchObject({ data: { code: "BAD_REQUEST" } });
    const err = (await bad.catch((e: unknown) => e)) as { data: { issues: { path: string }[] } };
    expect(err.data.issues.map((i) => i.path)).toEqual(expect.arrayContaining(["batchSize"]));
    expect((await owner.api.sessions.get.query({ sessionId })).runs).toHaveLength(0);
  });

  it("streams the same losses to two members; a viewer cannot pause; a pause is seen by both with its iteration", async () => {
    const run = await owner.api.runs.create.mutate({ sessionId, name: "tiny", config: tinyConfig });
    runId = run.id;
    const a = await open(owner);
    const b = await open(viewer);
    const got = { a: [] as LossPoint[], b: [] as LossPoint[] };
    a.on("run:losses", (p) => got.a.push(...p.points));
    b.on("run:losses", (p) => got.b.push(...p.points));
    const joinA = await a.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, runId });
    const joinB = await b.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, runId });
    expect("data" in joinA && joinA.data.role).toBe("owner");
    expect("data" in joinB && joinB.data.presence.map((u) => u.name).sort()).toEqual(["Ada", "Vic"]);

    expect(await errorCode(viewer.api.runs.start.mutate({ runId }))).toBe("FORBIDDEN");
    await owner.api.runs.start.mutate({ runId });
    await waitFor(b, "run:losses", (p) => p.points.some((x) => x.iteration >= 12));

    expect(await errorCode(viewer.api.runs.pause.mutate({ runId }))).toBe("FORBIDDEN");
    const pausedA = waitFor(a, "run:status", (s) => s.status === "paused");
    const pausedB = waitFor(b, "run:status", (s) => s.status === "paused");
    const pauseEntry = waitFor(b, "activity", (e) => e.kind === "run.pause");
    await owner.api.runs.pause.mutate({ runId });
    const [sa, sb, entry] = await Promise.all([pausedA, pausedB, pauseEntry]);
    expect(sa.iteration).toBe(sb.iteration);
    expect(entry).toMatchObject({ userName: "Ada", iteration: sa.iteration });
    await new Promise((r) => setTimeout(r, 300)); // let the last batch arrive
    const upTo = (xs: LossPoint[]) => xs.filter((x) => x.iteration < sa.iteration);
    expect(upTo(got.a).map((x) => x.iteration)).toEqual(Array.from({ length: sa.iteration }, (_, i) => i));
    expect(upTo(got.b)).toEqual(upTo(got.a));
  });

  it("an LRateMultiplier change reaches every member with who made it and the iteration it took effect at", async () => {
    const b = sockets[1]!;
    const entry = waitFor(b, "activity", (e) => e.kind === "control.lrMultiplier");
    expect(await errorCode(viewer.api.runs.setLrMultiplier.mutate({ runId, scope: "Affine", param: "W", value: 0 }))).toBe("FORBIDDEN");
    await owner.api.runs.setLrMultiplier.mutate({ runId, scope: "Affine", param: "W", value: 0 });
    await owner.api.runs.resume.mutate({ runId });
    expect(await entry).toMatchObject({ userName: "Ada", detail: { scope: "Affine", param: "W", from: 1, to: 0 } });
    expect(await errorCode(owner.api.runs.setLrMultiplier.mutate({ runId, scope: "Nope", param: "W", value: 0 }))).toBe("BAD_REQUEST");
    const activity = await viewer.api.sessions.activity.query({ sessionId, runId });
    expect(activity.map((e) => e.kind)).toEqual(expect.arrayContaining(["run.created", "run.started", "run.pause", "control.lrMultiplier"]));
  });

  it("a late joiner gets the whole history, then the live stream, with no gap and no duplicate", async () => {
    await waitFor(sockets[0]!, "run:grid", () => true);
    const late = await open(viewer);
    const live: LossPoint[] = [];
    late.on("run:losses", (p) => live.push(...p.points));
    const reply = await late.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, runId });
    if (!("data" in reply)) throw new Error(reply.error.message);
    const history = reply.data.history!;
    // A short run (≤ GAN_HISTORY_PAGE_POINTS points) comes whole, without an overview (tests/integration/history.test.ts: a long one).
    expect(history.overview).toBeNull();
    expect(history.losses.map((x) => x.iteration)).toEqual(Array.from({ length: history.losses.length }, (_, i) => i));
    expect(history.grids.length).toBeGreaterThanOrEqual(1);
    await waitFor(late, "run:losses", (p) => p.points.some((x) => x.iteration > history.lastIteration! + 10));
    const merged = [...history.losses, ...live.filter((x) => x.iteration > history.lastIteration!)].map((x) => x.iteration);
    expect(merged).toEqual(Array.from({ length: merged.length }, (_, i) => i));
    const grid = await viewer.fetch(history.grids[0]!.url);
    expect(grid.headers.get("content-type")).toBe("image/png");
  });

  it("exports a run's change log as JSON and CSV: who, what, old → new, the iteration, in order; members only", async () => {
    const json = await viewer.fetch(`/api/runs/${runId}/changes.json`);
    expect(json.status).toBe(200);
    expect(json.headers.get("content-disposition")).toBe('attachment; filename="gan-studio-tiny-changes.json"');
    const log = (await json.json()) as {
      runId: string;
      changes: { kind: string; who: string | null; what: string; from: string | null; to: string | null; iteration: number | null }[];
    };
    expect(log.runId).toBe(runId);
    expect(log.changes.slice(0, 4).map((c) => c.kind)).toEqual(["run.started", "run.pause", "control.lrMultiplier", "run.resume"]);
    const multiplier = log.changes[2]!;
    expect(multiplier).toMatchObject({ who: "Ada", what: "LRateMultiplier Affine/W", from: "1", to: "0" });
    expect(multiplier.iteration).toBeGreaterThanOrEqual(log.changes[1]!.iteration!);
    const csv = await (await viewer.fetch(`/api/runs/${runId}/changes.csv`)).text();
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[0]).toBe("at,iteration,who,kind,what,from,to");
    expect(lines).toHaveLength(log.changes.length + 1);
    expect(lines[3]).toMatch(new RegExp(`^[^,]+,${multiplier.iteration},Ada,control\\.lrMultiplier,LRateMultiplier Affine/W,1,0$`));
    const stranger = person(server.url);
    await stranger.api.auth.signUp.mutate({ email: "sam.changes@example.com", name: "Sam", password: "correct horse" });
    expect((await stranger.fetch(`/api/runs/${runId}/changes.csv`)).status).toBe(403);
    expect((await fetch(`${server.url}/api/runs/${runId}/changes.json`)).status).toBe(401);
  });

  it("reports in its health check the backend the trainers run on, and the live runs", async () => {
    const health = (await (await fetch(`${server.url}/api/health`)).json()) as { trainerBackend: { name: string } | null; liveRuns: number };
    expect(health.trainerBackend?.name).toBe("wasm");
    expect(health.liveRuns).toBe(1);
  });

  it("serves the RuntimeGenerator as PNG from the live weights, to viewers too", async () => {
    const res = await viewer.fetch(`/api/runs/${runId}/generate?label=7&seed=42&count=1`);
    expect(res.status).toBe(200);
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe("PNG");
    const q = await viewer.api.runs.generate.query({ runId, label: 3, seed: 1, count: 2 });
    expect(q).toMatchObject({ label: 3, count: 2, labels: [3, 3] });
    expect((await fetch(`${server.url}/api/runs/${runId}/generate?label=7`)).status).toBe(401);
    expect((await viewer.fetch(`/api/runs/${runId}/generate?label=1&count=0`)).status).toBe(400);
  });

  it("serves the RuntimeGenerator's weights to members for a page to run: tf.io model.json and immutable weights of its version", async () => {
    const fresh = (await owner.api.runs.create.mutate({ sessionId, name: "weights", config: { ...tinyConfig, maxEpoch: 2 } })).id;
    // No weights yet: a clear refusal, nothing read.
    const early = await viewer.fetch(`/api/runs/${fresh}/generator/model.json`);
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { message: string } }).error.message).toMatch(/no weights yet/);
    const s = await open(viewer);
    await s.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, runId: fresh });
    const done = waitFor(s, "run:status", (x) => x.runId === fresh && x.status === "completed", 120_000);
    await owner.api.runs.start.mutate({ runId: fresh });
    await done;

    const res = await viewer.fetch(`/api/runs/${fresh}/generator/model.json`);
    expect(res.status).toBe(200);
    const etag = res.headers.get("etag")!;
    const model = (await res.json()) as {
      format: string;
      weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
      userDefinedMetadata: { iteration: number; scopes: string[]; spec: { name: string } };
    };
    expect(model.format).toBe("gan-studio-runtime-generator");
    const { iteration, scopes } = model.userDefinedMetadata;
    expect(iteration).toBe(12); // 2 epochs of 6 iterations: the final checkpoint
    expect(etag).toBe(`"${fresh}-${iteration}"`);
    const [group] = model.weightsManifest;
    expect(group!.paths).toEqual([`weights-${iteration}.bin`]);
    // The generator's part only, every parameter of it, with the checkpoint's values.
    const checkpoint = await readCheckpoint(path.join((await server.store.getRun(fresh))!.outDir, "latest"), { weightsOnly: true });
    const generatorKeys = [...checkpoint.weights.keys()].filter((k) => scopes.includes(k.slice(0, k.lastIndexOf("/"))));
    expect(group!.weights.map((w) => w.name)).toEqual(generatorKeys);
    expect(generatorKeys.length).toBeLessThan(checkpoint.weights.size); // the discriminator stays on the server
    const bin = await viewer.fetch(`/api/runs/${fresh}/generator/${group!.paths[0]}`);
    expect(bin.status).toBe(200);
    expect(bin.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
    const values = new Float32Array(await bin.arrayBuffer());
    let offset = 0;
    for (const w of group!.weights) {
      const size = w.shape.reduce((a, b) => a * b, 1);
      expect(values.subarray(offset, offset + size)).toEqual(checkpoint.weights.get(w.name));
      offset += size;
    }
    expect(offset).toBe(values.length);

    // The same version again: 304 by its ETag. Another version: 404 naming the newest. Strangers: 401 / 403.
    expect((await viewer.fetch(`/api/runs/${fresh}/generator/model.json`, { headers: { "if-none-match": etag } })).status).toBe(304);
    const old = await viewer.fetch(`/api/runs/${fresh}/generator/weights-3.bin`);
    expect(old.status).toBe(404);
    expect(((await old.json()) as { error: { message: string } }).error.message).toContain(`its newest are of iteration ${iteration}`);
    expect((await fetch(`${server.url}/api/runs/${fresh}/generator/model.json`)).status).toBe(401);
    const stranger = person(server.url);
    await stranger.api.auth.signUp.mutate({ email: "sam.weights@example.com", name: "Sam", password: "correct horse" });
    expect((await stranger.fetch(`/api/runs/${fresh}/generator/model.json`)).status).toBe(403);
    expect((await stranger.fetch(`/api/runs/${fresh}/generator/${group!.paths[0]}`)).status).toBe(403);
  });

  it("serves socket.io's long-polling transport too (for networks that block WebSockets)", async () => {
    const s = await connect(server.url, viewer.cookie(), ["polling"]);
    sockets.push(s);
    const reply = await s.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId });
    expect(reply).toMatchObject({ data: { role: "viewer" } });
  });

  it("tells the session who is watching only when that changes: twenty tabs of one member push once, and once when the last closes", async () => {
    const tabsSession = (await owner.api.sessions.create.mutate({ name: "Tabs" })).id;
    await viewer.api.sessions.acceptInvite.mutate({ token: (await owner.api.sessions.createInvite.mutate({ sessionId: tabsSession, role: "viewer" })).token });
    const watcher = await open(owner);
    await watcher.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: tabsSession });
    const pushes: string[] = [];
    watcher.on("presence", (p) =>
      pushes.push(
        p.users
          .map((u) => u.name)
          .sort()
          .join(),
      ),
    );
    const tabs: ClientSocket[] = [];
    for (let i = 0; i < 20; i++) {
      const tab = await open(viewer);
      const reply = await tab.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: tabsSession });
      if (!("data" in reply)) throw new Error("join refused");
      // Every tab still gets the whole list in its reply.
      expect(reply.data.presence.map((u) => u.name).sort()).toEqual(["Ada", "Vic"]);
      tabs.push(tab);
    }
    for (const t of tabs.slice(1)) t.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(pushes).toEqual(["Ada,Vic"]);
    const left = waitFor(watcher, "presence", (p) => p.users.length === 1);
    tabs[0]!.close();
    await left;
    expect(pushes).toEqual(["Ada,Vic", "Ada"]);
  });

  it("refuses a join without the socket protocol version, or with another, as UNSUPPORTED_PROTOCOL", async () => {
    const s = sockets[1]!;
    const refused = { error: { code: "UNSUPPORTED_PROTOCOL", message: "this page is older than the server: reload it" } };
    expect(await s.emitWithAck("join", { sessionId } as never)).toEqual(refused);
    expect(await s.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION + 1, sessionId } as never)).toEqual(refused);
    expect(await s.emitWithAck("join", { v: String(SOCKET_PROTOCOL_VERSION), sessionId } as never)).toEqual(refused);
    // The version comes first: a page of another protocol is told to reload, whatever else it sent.
    expect(await s.emitWithAck("join", { v: 0, sessionId: 42 } as never)).toEqual(refused);
    expect(await s.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId })).toMatchObject({ data: { role: "viewer" } });
  });

  it("answers malformed socket messages and tRPC inputs with typed errors and changes nothing", async () => {
    const s = sockets[1]!;
    const bad = await s.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: 42 } as never);
    expect(bad).toMatchObject({ error: { code: "BAD_REQUEST" } });
    const extra = await s.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, evil: true } as never);
    expect(extra).toMatchObject({ error: { code: "BAD_REQUEST" } });
    expect(await errorCode(owner.api.runs.setAlpha.mutate({ runId, network: "Generator", alpha: -1 }))).toBe("BAD_REQUEST");
    // Above any solver's α: refused by the API; above the Generator's own solver's (Adam, 1): by its trainer, the same code.
    expect(await errorCode(owner.api.runs.setAlpha.mutate({ runId, network: "Generator", alpha: 11 }))).toBe("BAD_REQUEST");
    await expect(owner.api.runs.setAlpha.mutate({ runId, network: "Generator", alpha: 2 })).rejects.toMatchObject({
      data: { code: "BAD_REQUEST" },
      message: expect.stringContaining("Adam's α is at most 1, got 2"),
    });
    expect(await errorCode(owner.api.runs.setLrMultiplier.mutate({ runId, scope: "Affine", param: "W", value: 101 }))).toBe("BAD_REQUEST");
    expect(await errorCode(owner.api.runs.pause.mutate({ runId: "" }))).toBe("BAD_REQUEST");
    const run = await owner.api.runs.get.query({ runId });
    expect(run.run.status).toBe("running");
  });

  it("a killed trainer leaves a failed run with its metrics, resumable from its last checkpoint", async () => {
    const before = await owner.api.runs.history.query({ runId });
    const failed = waitFor(sockets[0]!, "run:status", (s) => s.status === "failed");
    const proc = (server.runs as unknown as { live: Map<string, { process: { kill(s: string): void } }> }).live.get(runId)!;
    proc.process.kill("SIGKILL");
    const status = await failed;
    expect(status.reason).toMatch(/SIGKILL/);
    const after = await owner.api.runs.history.query({ runId });
    expect(after.losses.length).toBeGreaterThanOrEqual(before.losses.length);
    const { checkpoints } = await owner.api.runs.get.query({ runId });
    const last = Math.max(...checkpoints.map((c) => c.iteration));
    const resumed = waitFor(sockets[0]!, "run:losses", (p) => p.points.some((x) => x.iteration === last));
    await owner.api.runs.start.mutate({ runId });
    await resumed;
    await owner.api.runs.stop.mutate({ runId });
    await waitFor(sockets[0]!, "run:status", (s) => s.status === "stopped");
  });
});
