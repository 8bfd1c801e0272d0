/**
 * The owner manages members through the real server: roles up and down, removal, and what follows at once for the
 * member's open connection (presence shows the new role; a removed member stops receiving the session's pushes).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ActivityPush, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { startServer, type RunningServer } from "../../server/app";
import { connect, errorCode, person, waitFor, type ClientSocket, type Person } from "../helpers/clients";
import { testEnv } from "../helpers/env";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-members-"));
let server: RunningServer;
let owner: Person;
let member: Person;
let sessionId: string;
let memberId: string;
let ownerId: string;
let socket: ClientSocket;

beforeAll(async () => {
  server = await startServer(testEnv(tmp));
  owner = person(server.url);
  member = person(server.url);
  ownerId = (await owner.api.auth.signUp.mutate({ email: "olga@example.com", name: "Olga", password: "correct horse" })).id;
  memberId = (await member.api.auth.signUp.mutate({ email: "max@example.com", name: "Max", password: "battery staple" })).id;
  sessionId = (await owner.api.sessions.create.mutate({ name: "Team" })).id;
  const invite = await owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer" });
  await member.api.sessions.acceptInvite.mutate({ token: invite.token });
  socket = await connect(server.url, member.cookie());
  await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId });
});

afterAll(async () => {
  socket?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("members", () => {
  it("the owner makes a viewer an editor: the API lets them steer, presence and the activity feed say so", async () => {
    expect(await errorCode(member.api.runs.create.mutate({ sessionId, name: "x", config: {} }))).toBe("FORBIDDEN");
    expect(await errorCode(member.api.sessions.setRole.mutate({ sessionId, userId: memberId, role: "editor" }))).toBe("FORBIDDEN");
    const presence = waitFor(socket, "presence", (p) => p.users.some((u) => u.userId === memberId && u.role === "editor"));
    const entry = waitFor(socket, "activity", (a) => a.kind === "member.role");
    expect(await owner.api.sessions.setRole.mutate({ sessionId, userId: memberId, role: "editor" })).toEqual({ role: "editor" });
    await presence;
    expect((await entry).detail).toMatchObject({ member: "Max", from: "viewer", to: "editor" });
    expect((await member.api.sessions.get.query({ sessionId })).role).toBe("editor");
    const run = await member.api.runs.create.mutate({ sessionId, name: "by Max", config: { network: "small-dcgan", diagnostics: false } });
    expect(run.name).toBe("by Max");
  });

  it("the owner's own role cannot change, nor can they be removed; strangers are not found", async () => {
    expect(await errorCode(owner.api.sessions.setRole.mutate({ sessionId, userId: ownerId, role: "viewer" }))).toBe("CONFLICT");
    expect(await errorCode(owner.api.sessions.removeMember.mutate({ sessionId, userId: ownerId }))).toBe("CONFLICT");
    expect(await errorCode(owner.api.sessions.setRole.mutate({ sessionId, userId: "no-such-user", role: "viewer" }))).toBe("NOT_FOUND");
  });

  it("a removed member hears of it, then stops receiving the session's pushes, and is refused from then on", async () => {
    const removed = waitFor(socket, "activity", (a) => a.kind === "member.removed");
    await owner.api.sessions.removeMember.mutate({ sessionId, userId: memberId });
    expect((await removed).detail).toMatchObject({ member: "Max", role: "editor" });
    const later: ActivityPush[] = [];
    socket.on("activity", (a) => later.push(a));
    await owner.api.sessions.setPauseOnCollapse.mutate({ sessionId, value: true });
    const ownerSocket = await connect(server.url, owner.cookie());
    await ownerSocket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId });
    // The owner's own connection sees the next entry; the removed member's does not.
    const seen = waitFor(ownerSocket, "activity", (a) => a.kind === "session.pauseOnCollapse");
    await owner.api.sessions.setPauseOnCollapse.mutate({ sessionId, value: false });
    await seen;
    ownerSocket.close();
    expect(later).toEqual([]);
    expect(await errorCode(member.api.sessions.get.query({ sessionId }))).toBe("FORBIDDEN");
    const rejoin = await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId });
    expect("error" in rejoin && rejoin.error.code).toBe("FORBIDDEN");
    expect((await owner.api.sessions.get.query({ sessionId })).members.map((m) => m.name)).toEqual(["Olga"]);
  });
});
