/**
 * Activity and the parameter table through the real server (real SQLite, real socket.io clients, a real trainer
 * process training the small DCGAN on 48 digits): every writer records through the one ActivityLog, so an accepted
 * invite reaches the session's sockets; a control that took effect is pushed as `run:parameters` carrying the change,
 * `runs.parameters` answers from memory without reading the activity log; after a restart the table is rebuilt from
 * the run's control entries alone, however many other entries came after them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { applyControl, CONTROL_KINDS } from "../../lib/protocol/parameters";
import { SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { startServer, type RunningServer } from "../../server/app";
import { insertUnrelatedActivity } from "../helpers/activity";
import { connect, person, waitFor, type ClientSocket, type Person } from "../helpers/clients";
import { testEnv } from "../helpers/env";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-activity-"));
let server: RunningServer;
let owner: Person;
let member: Person;
let sessionId: string;
let runId: string;
const sockets: ClientSocket[] = [];

const tinyConfig = { network: "small-dcgan", diagnostics: false, batchSize: 8, limit: 48, maxEpoch: 400, seed: 5, sampleColumns: 2 };

const open = async (p: Person, runId?: string) => {
  const s = await connect(server.url, p.cookie());
  sockets.push(s);
  const reply = await s.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, ...(runId ? { runId } : {}) });
  if ("error" in reply) throw new Error(reply.error.message);
  return s;
};

beforeAll(async () => {
  server = await startServer(testEnv(tmp));
  owner = person(server.url);
  member = person(server.url);
  await owner.api.auth.signUp.mutate({ email: "ada@example.com", name: "Ada", password: "correct horse" });
  await member.api.auth.signUp.mutate({ email: "max@example.com", name: "Max", password: "battery staple" });
  sessionId = (await owner.api.sessions.create.mutate({ name: "Activity" })).id;
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("activity through the one ActivityLog", () => {
  it("an accepted invite pushes member.joined to the session's sockets, typed; a link that raises the role says from what", async () => {
    const ownerSocket = await open(owner);
    const joined = waitFor(ownerSocket, "activity", (a) => a.kind === "member.joined");
    const invite = await owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer" });
    await member.api.sessions.acceptInvite.mutate({ token: invite.token });
    expect(await joined).toMatchObject({ sessionId, kind: "member.joined", userName: "Max", detail: { role: "viewer" }, runId: null });

    const raised = waitFor(ownerSocket, "activity", (a) => a.kind === "member.joined" && a.detail.role === "editor");
    const editor = await owner.api.sessions.createInvite.mutate({ sessionId, role: "editor" });
    await member.api.sessions.acceptInvite.mutate({ token: editor.token });
    expect((await raised).detail).toEqual({ role: "editor", from: "viewer" });
    // What was pushed is what the feed reads.
    const feed = await owner.api.sessions.activity.query({ sessionId });
    expect(feed.filter((a) => a.kind === "member.joined").map((a) => a.detail)).toEqual([{ role: "viewer" }, { role: "editor", from: "viewer" }]);
  });

  it("a multiplier change pushes run:parameters with the change; runs.parameters answers with the same state, reading no activity", async () => {
    runId = (await owner.api.runs.create.mutate({ sessionId, name: "tiny", config: tinyConfig })).id;
    const before = await member.api.runs.parameters.query({ runId });
    expect(before.state.lrMultipliers.Affine).toEqual({ W: 1, b: 1 });
    expect(before.state.lastChange).toEqual({ lrMultipliers: {}, optimizers: {} });
    const watcher = await open(member, runId);
    await owner.api.runs.start.mutate({ runId });
    await waitFor(watcher, "run:losses", (p) => p.points.some((x) => x.iteration >= 4));

    const pushed = waitFor(watcher, "run:parameters", (p) => p.runId === runId);
    const entry = waitFor(watcher, "activity", (a) => a.kind === "control.lrMultiplier");
    await owner.api.runs.setLrMultiplier.mutate({ runId, scope: "Affine", param: "W", value: 0 });
    const push = await pushed;
    expect(push).toEqual({
      runId,
      change: { kind: "lrMultiplier", scope: "Affine", param: "W", from: 1, to: 0 },
      userName: "Ada",
      iteration: expect.any(Number),
      at: (await entry).createdAt,
    });

    const list = vi.spyOn(server.store, "listActivity");
    const listRun = vi.spyOn(server.store, "listRunActivity");
    try {
      const after = await member.api.runs.parameters.query({ runId });
      expect(after.state).toEqual(applyControl(before.state, push));
      expect(after.state.lastChange.lrMultipliers.Affine?.W).toEqual({ userName: "Ada", iteration: push.iteration, at: push.at });
      expect(list).not.toHaveBeenCalled();
      expect(listRun).not.toHaveBeenCalled();
    } finally {
      list.mockRestore();
      listRun.mockRestore();
    }
  });

  it("after a restart the parameter table is rebuilt from the run's control entries, 20,000 later entries notwithstanding", async () => {
    const stopped = waitFor(sockets.at(-1)!, "run:status", (s) => s.runId === runId && s.status === "stopped");
    await owner.api.runs.stop.mutate({ runId });
    await stopped;
    const before = await owner.api.runs.parameters.query({ runId });
    await server.close();

    server = await startServer(testEnv(tmp));
    expect(await insertUnrelatedActivity(server.store.prisma, { sessionId, runId }, 20_000)).toBe(20_000);
    // The run's latest 10,000 entries (what the table used to replay) no longer hold the change.
    expect((await server.store.listActivity(sessionId, { runId, limit: 10_000 })).some((a) => a.kind === "control.lrMultiplier")).toBe(false);
    owner = person(server.url);
    await owner.api.auth.signIn.mutate({ email: "ada@example.com", password: "correct horse" });
    const list = vi.spyOn(server.store, "listActivity");
    const listRun = vi.spyOn(server.store, "listRunActivity");
    try {
      const rebuilt = await owner.api.runs.parameters.query({ runId });
      expect(rebuilt.state).toEqual(before.state);
      expect(rebuilt.state.lrMultipliers.Affine?.W).toBe(0);
      expect(rebuilt.state.lastChange.lrMultipliers.Affine?.W).toMatchObject({ userName: "Ada" });
      expect(listRun.mock.calls).toEqual([[runId, CONTROL_KINDS]]);
      expect(list).not.toHaveBeenCalled();
    } finally {
      list.mockRestore();
      listRun.mockRestore();
    }
  });
});
