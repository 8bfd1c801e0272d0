/**
 * Restart safety: the server process is killed (SIGKILL) while a run trains. After a restart on the same
 * database the run shows as interrupted, every loss point a member had received is still there, the
 * RuntimeGenerator serves its last checkpoint without changing its state, and it resumes on command. On both
 * databases: a SQLite file and PostgreSQL (a database of its own on the run's server, tests/global-postgres.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LossPoint, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { connect, person, waitFor } from "../helpers/clients";
import { testEnvVars } from "../helpers/env";
import { freshPostgresDatabase } from "../helpers/postgres";
import { killAll, startServerProcess, untilCheckpointRecorded } from "../helpers/server-process";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-restart-"));
afterAll(() => {
  killAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each(["sqlite", "postgresql"] as const)("restart safety on %s", (database) => {
  it("a run trained through a SIGKILL of the server is interrupted, intact and resumable", async () => {
    const dir = mkdtempSync(path.join(tmp, `${database}-`));
    const databaseUrl = database === "sqlite" ? `file:${path.join(dir, "test.db")}` : await freshPostgresDatabase("restart");
    const env = testEnvVars(dir, { DATABASE_URL: databaseUrl });
    const first = await startServerProcess(env);
    const health = (await (await fetch(`${first.url}/api/health`)).json()) as { database: { kind: string; ok: boolean } };
    expect(health.database).toMatchObject({ kind: database, ok: true });
    const ada = person(first.url);
    await ada.api.auth.signUp.mutate({ email: "ada@example.com", name: "Ada", password: "correct horse" });
    const session = await ada.api.sessions.create.mutate({ name: "Crash test" });
    const run = await ada.api.runs.create.mutate({
      sessionId: session.id,
      name: "tiny",
      config: { network: "small-dcgan", diagnostics: false, batchSize: 8, limit: 48, maxEpoch: 400, seed: 3, sampleColumns: 2 },
    });
    const socket = await connect(first.url, ada.cookie());
    const received: LossPoint[] = [];
    socket.on("run:losses", (p) => received.push(...p.points));
    await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: session.id, runId: run.id });
    await ada.api.runs.start.mutate({ runId: run.id });
    await waitFor(socket, "run:grid", (g) => g.epoch >= 2);
    await untilCheckpointRecorded(ada, run.id);
    await waitFor(socket, "run:losses", () => true);

    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));
    socket.close();
    const acknowledged = received.map((p) => p.iteration);

    const second = await startServerProcess(env);
    const again = person(second.url);
    await again.api.auth.signIn.mutate({ email: "ada@example.com", password: "correct horse" });
    const after = await again.api.runs.get.query({ runId: run.id });
    expect(after.run.status).toBe("interrupted");
    expect(after.run.failureReason).toMatch(/server stopped/);
    const history = await again.api.runs.history.query({ runId: run.id });
    const stored = new Set(history.losses.map((p) => p.iteration));
    expect(acknowledged.filter((i) => !stored.has(i))).toEqual([]);
    expect(history.grids.length).toBeGreaterThanOrEqual(2);

    // The RuntimeGenerator of an interrupted run comes from its last checkpoint, and leaves the run as it was.
    const png = await again.fetch(`/api/runs/${run.id}/generate?label=4&seed=9`);
    expect(png.status, await png.clone().text()).toBe(200);
    expect((await again.api.runs.get.query({ runId: run.id })).run.status).toBe("interrupted");

    const checkpoint = Math.max(...after.checkpoints.map((c) => c.iteration));
    const s2 = await connect(second.url, again.cookie());
    await s2.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: session.id, runId: run.id });
    // The trainer continues from its checkpoint folder, which may be one epoch newer than the last checkpoint
    // row (the server can die between the trainer's write and the row): never older, always an epoch boundary.
    const resumed = waitFor(s2, "run:losses", () => true);
    await again.api.runs.start.mutate({ runId: run.id });
    const firstResumed = Math.min(...(await resumed).points.map((x) => x.iteration));
    expect(firstResumed).toBeGreaterThanOrEqual(checkpoint);
    expect(firstResumed % 6).toBe(0);
    const activity = await again.api.sessions.activity.query({ sessionId: session.id, runId: run.id });
    expect(activity.at(-1)?.kind === "run.resumedFromCheckpoint" || activity.some((a) => a.kind === "run.resumedFromCheckpoint")).toBe(true);
    s2.close();
    second.child.kill("SIGTERM");
    await new Promise((r) => second.child.once("exit", r));
  });
});
