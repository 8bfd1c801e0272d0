/**
 * PostgreSQL lost while a run trains: the server's own PostgreSQL (started here, killed with SIGKILL, started again).
 * The run pauses with the reason for every viewer; the server keeps serving and says so in its health; every loss
 * point the trainer reported is written once PostgreSQL is back, by itself, none lost; an editor resumes. Every page
 * is told the database is lost and then back (the `services` push behind the connection banner).
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { startServer, type RunningServer } from "../../server/app";
import { type PostgresServer, startPostgres } from "../../server/cluster/postgres";
import { connect, person, waitFor, type ClientSocket, type Person } from "../helpers/clients";
import { testEnv } from "../helpers/env";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-pg-lost-"));
chmodSync(tmp, 0o711); // PostgreSQL's own user must pass through it
let pg: PostgresServer;
let server: RunningServer;
let owner: Person;
let socket: ClientSocket;
let sessionId: string;

const config = { network: "small-dcgan", diagnostics: false, batchSize: 8, limit: 48, maxEpoch: 10_000, seed: 9, sampleColumns: 2 };

beforeAll(async () => {
  pg = await startPostgres({ dir: path.join(tmp, "pg") });
  server = await startServer(testEnv(path.join(tmp, "data"), { DATABASE_URL: pg.url }));
  owner = person(server.url);
  await owner.api.auth.signUp.mutate({ email: "sam@example.com", name: "Sam", password: "correct horse" });
  sessionId = (await owner.api.sessions.create.mutate({ name: "Lost database" })).id;
  socket = await connect(server.url, owner.cookie());
  await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId });
});

afterAll(async () => {
  socket?.close();
  await server?.close();
  pg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe("PostgreSQL lost while training", () => {
  it("pauses the run with the reason, keeps serving, writes every held point once it is back", async () => {
    const runId = (await owner.api.runs.create.mutate({ sessionId, name: "through an outage", config })).id;
    const seen = new Set<number>();
    socket.on("run:losses", (p) => {
      if (p.runId === runId) for (const pt of p.points) seen.add(pt.iteration);
    });
    const running = waitFor(socket, "run:losses", (p) => p.runId === runId && p.points.some((pt) => pt.iteration >= 20), 120_000);
    await owner.api.runs.start.mutate({ runId });
    await running;

    const lost = waitFor(socket, "services", (s) => !s.database.ok, 30_000);
    const pausing = waitFor(socket, "run:status", (s) => s.runId === runId && s.status === "paused" && /could not store/.test(s.reason ?? ""), 120_000);
    pg.kill();
    // Every page of this server is told (its connection banner); a page that connects during the outage cannot be
    // checked, and is refused with the reason (it retries), never left hanging.
    expect(await lost).toMatchObject({ database: { kind: "postgresql", ok: false }, redis: null });
    await expect(connect(server.url, owner.cookie())).rejects.toThrow(/^UNAVAILABLE: the server cannot reach its database/);
    const paused = await pausing;
    expect(paused.reason).toMatch(/could not store/);
    // Still serving: the health check answers, with the database's state.
    const health = await fetch(`${server.url}/api/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ ok: false, database: { kind: "postgresql", ok: false } });
    const viewerSaw = [...seen];

    const back = waitFor(socket, "services", (s) => s.database.ok, 60_000);
    pg.start();
    await waitFor(socket, "run:status", (s) => s.runId === runId && /works again/.test(s.reason ?? ""), 60_000);
    await back;
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
    const stored = (await server.store.prisma.metricPoint.findMany({ where: { runId }, select: { iteration: true }, orderBy: { iteration: "asc" } })).map(
      (r) => r.iteration,
    );
    expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i));
    for (const it of viewerSaw) expect(stored).toContain(it);

    const more = waitFor(socket, "run:losses", (p) => p.runId === runId && p.points.some((pt) => pt.iteration > stored.length + 5), 120_000);
    await owner.api.runs.resume.mutate({ runId });
    await more;
    await owner.api.runs.stop.mutate({ runId });
    await waitFor(socket, "run:status", (s) => s.runId === runId && s.status === "stopped", 60_000);
  });
});
