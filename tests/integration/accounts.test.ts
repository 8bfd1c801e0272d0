/**
 * Accounts, cookies and invites against the real server: sign-in, sign-up and invite rate limits (per address and
 * per account), the same sign-in time with or without an account, malformed cookies, cookies ended by sign-out and
 * by a password change (tRPC and socket.io), socket.io's Origin check, and invite links (expiry, uses, concurrent
 * accepts, removed and demoted members, the invitation shown before joining).
 *
 * Every address below is a loopback alias (127.0.0.x) so that each rate-limit test has its own address.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import os from "node:os";
import path from "node:path";
import { TRPCClientError } from "@trpc/client";
import { io as ioClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../server/app";
import { errorCode, person, type Person } from "../helpers/clients";
import { testEnv } from "../helpers/env";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-accounts-"));
let server: RunningServer;
let owner: Person;
let ownerId: string;
let sessionId: string;

const PASSWORD = "correct horse battery";

/** A tRPC error's `data` (code, quota, invite, issues), or a failure if the call succeeded. */
async function errorData(p: Promise<unknown>): Promise<{
  code: string;
  httpStatus: number;
  quota: { name: string; limit: number; used: number; retryAfterSeconds?: number } | null;
  invite: { reason: string } | null;
}> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TRPCClientError) return e.data as never;
    throw e;
  }
  throw new Error("expected the call to fail");
}

async function errorMessage(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected the call to fail");
}

/** One raw HTTP request from a chosen local address (each 127.0.0.x is its own IP to the server's rate limits). */
function raw(opts: {
  from?: string;
  method?: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}): Promise<{ status: number; body: string; setCookie: string[] }> {
  const url = new URL(server.url);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: opts.path,
        method: opts.method ?? (payload ? "POST" : "GET"),
        ...(opts.from ? { localAddress: opts.from } : {}),
        headers: { ...(payload ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) } : {}), ...opts.headers },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, setCookie: ([] as string[]).concat(res.headers["set-cookie"] ?? []) }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const signUp = async (name: string, email = `${name.toLowerCase()}@example.com`) => {
  const p = person(server.url);
  const me = await p.api.auth.signUp.mutate({ email, name, password: PASSWORD });
  return { p, id: me.id, email };
};

/** A socket.io handshake's outcome: "connected", or the error's message. */
function handshake(opts: { cookie?: string; origin?: string; transport: "websocket" | "polling" }): Promise<string> {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.origin) headers.origin = opts.origin;
  const socket = ioClient(server.url, {
    path: "/api/socket",
    transports: [opts.transport],
    extraHeaders: headers,
    reconnection: false,
    forceNew: true,
    timeout: 10_000,
  });
  return new Promise((resolve) => {
    socket.once("connect", () => {
      socket.close();
      resolve("connected");
    });
    socket.once("connect_error", (e) => {
      socket.close();
      resolve(e.message || "connect_error");
    });
  });
}

beforeAll(async () => {
  // This file signs up 14 people from 127.0.0.1: sign-ups per address are raised from 10 to 20 (the burst test uses it).
  server = await startServer(testEnv(tmp, { GAN_SIGNUP_PER_IP: "20" }));
  const o = await signUp("Ines");
  owner = o.p;
  ownerId = o.id;
  sessionId = (await owner.api.sessions.create.mutate({ name: "Digits" })).id;
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("rate limits", () => {
  it("30 wrong sign-ins for one account: refused with TOO_MANY_REQUESTS after GAN_SIGNIN_FAILURES_PER_ACCOUNT (10), right password included; another account still signs in", async () => {
    const victim = await signUp("Vera");
    const attacker = person(server.url);
    const codes: string[] = [];
    let refusal: Awaited<ReturnType<typeof errorData>> | null = null;
    let message = "";
    for (let i = 0; i < 30; i++) {
      const call = attacker.api.auth.signIn.mutate({ email: victim.email, password: `wrong password ${i}` });
      const data = await errorData(call);
      codes.push(data.code);
      if (data.code === "TOO_MANY_REQUESTS" && !refusal) {
        refusal = data;
        message = await errorMessage(attacker.api.auth.signIn.mutate({ email: victim.email, password: "wrong again" }));
      }
    }
    expect(codes.slice(0, 10)).toEqual(Array(10).fill("UNAUTHORIZED"));
    expect(codes.slice(10)).toEqual(Array(20).fill("TOO_MANY_REQUESTS"));
    expect(refusal!.httpStatus).toBe(429);
    expect(refusal!.quota).toMatchObject({ name: "rateLimit", limit: 10, used: 10 });
    expect(refusal!.quota!.retryAfterSeconds).toBeGreaterThan(13 * 60);
    expect(refusal!.quota!.retryAfterSeconds).toBeLessThanOrEqual(15 * 60);
    expect(message).toMatch(/^too many sign-in attempts for this account: try again in 1[45] minutes$/);
    // The right password is refused too from the guesser's address while the window is full: that stops the guessing;
    // the account's owner, at another address, still signs in (a guesser cannot lock them out).
    expect(await errorCode(person(server.url).api.auth.signIn.mutate({ email: victim.email, password: PASSWORD }))).toBe("TOO_MANY_REQUESTS");
    expect((await raw({ from: "127.0.0.6", path: "/api/trpc/auth.signIn", body: { email: victim.email, password: PASSWORD } })).status).toBe(200);
    // Another account, from the same address, is not affected.
    const ines = person(server.url);
    expect(await ines.api.auth.signIn.mutate({ email: "ines@example.com", password: PASSWORD })).toMatchObject({ name: "Ines" });
  });

  it("failures count for an email without an account too, and a success resets the account's failures", async () => {
    const signIn = async (email: string, password: string) =>
      (await raw({ from: "127.0.0.8", path: "/api/trpc/auth.signIn", body: { email, password } })).status;
    const ghost: number[] = [];
    for (let i = 0; i < 11; i++) ghost.push(await signIn("nobody@example.com", "whatever123"));
    expect(ghost).toEqual([...Array(10).fill(401), 429]);

    const pia = await signUp("Pia");
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) statuses.push(await signIn(pia.email, "not it at all"));
    statuses.push(await signIn(pia.email, PASSWORD));
    // Nine more failures after the success are still allowed: the count started again.
    for (let i = 0; i < 9; i++) statuses.push(await signIn(pia.email, "not it at all"));
    statuses.push(await signIn(pia.email, PASSWORD));
    expect(statuses).toEqual([...Array(9).fill(401), 200, ...Array(9).fill(401), 200]);
  });

  it("a guess spread over many addresses: 100 failures for one account lock it everywhere", async () => {
    const zoe = await signUp("Zoe");
    const statuses: number[] = [];
    for (let a = 0; a < 11; a++) {
      for (let i = 0; i < 10; i++)
        statuses.push(
          (await raw({ from: `127.0.1.${a + 1}`, path: "/api/trpc/auth.signIn", body: { email: zoe.email, password: `spread ${a}-${i}` } })).status,
        );
    }
    expect(statuses.slice(0, 100)).toEqual(Array(100).fill(401));
    expect(statuses.slice(100)).toEqual(Array(10).fill(429));
    expect((await raw({ from: "127.0.2.1", path: "/api/trpc/auth.signIn", body: { email: zoe.email, password: PASSWORD } })).status).toBe(429);
  });

  it("sign-in attempts per address: the 51st from one address in 15 minutes is refused, whatever the email", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 51; i++) {
      const res = await raw({ from: "127.0.0.3", path: "/api/trpc/auth.signIn", body: { email: `spray-${i}@example.com`, password: "password123" } });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 50)).toEqual(Array(50).fill(401));
    expect(statuses[50]).toBe(429);
    const last = await raw({ from: "127.0.0.3", path: "/api/trpc/auth.signIn", body: { email: "ines@example.com", password: PASSWORD } });
    expect(last.status).toBe(429);
    expect(JSON.parse(last.body).error.message).toMatch(/^too many sign-in attempts from your address: try again in \d+ minutes?$/);
  });

  it("a sign-up burst from one address is refused after GAN_SIGNUP_PER_IP (20 here) per hour; other addresses still sign up", async () => {
    const statuses: number[] = [];
    let refused: { message: string; data: { quota: { name: string; limit: number } } } | null = null;
    for (let i = 0; i < 22; i++) {
      const res = await raw({
        from: "127.0.0.2",
        path: "/api/trpc/auth.signUp",
        body: { email: `burst-${i}@example.com`, name: `Burst ${i}`, password: PASSWORD },
      });
      statuses.push(res.status);
      if (res.status === 429) refused ??= JSON.parse(res.body).error;
    }
    expect(statuses).toEqual([...Array(20).fill(200), 429, 429]);
    expect(refused!.message).toMatch(/^too many accounts created from your address: try again in (59|60) minutes$/);
    expect(refused!.data.quota).toMatchObject({ name: "rateLimit", limit: 20 });
    const elsewhere = await raw({
      from: "127.0.0.5",
      path: "/api/trpc/auth.signUp",
      body: { email: "elsewhere@example.com", name: "Else", password: PASSWORD },
    });
    expect(elsewhere.status).toBe(200);
  });

  it("a sign-in takes the same time whether or not the email has an account (a dummy hash is verified)", async () => {
    const time = async (email: string) => {
      const t = performance.now();
      const res = await raw({ from: "127.0.0.4", path: "/api/trpc/auth.signIn", body: { email, password: "wrong password" } });
      expect(res.status).toBe(401);
      return performance.now() - t;
    };
    await time("warm-up@example.com");
    const existing: number[] = [];
    const missing: number[] = [];
    for (let i = 0; i < 5; i++) {
      existing.push(await time("ines@example.com"));
      missing.push(await time(`missing-${i}@example.com`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!;
    // argon2id costs tens of milliseconds; skipping it for missing accounts would make them many times faster.
    const ratio = median(missing) / median(existing);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
    // The failures above count for Ines's account: clear them with a good sign-in.
    await person(server.url).api.auth.signIn.mutate({ email: "ines@example.com", password: PASSWORD });
  });
});

describe("cookies", () => {
  it("a malformed cookie (x=%) is ignored: tRPC answers normally, /api/health too, and a good cookie beside it still counts", async () => {
    const anonymous = await raw({ path: "/api/trpc/auth.me", headers: { cookie: "x=%" } });
    expect(anonymous.status).toBe(200);
    expect(JSON.parse(anonymous.body).result.data).toBeNull();
    const health = await raw({ path: "/api/health", headers: { cookie: "x=%; y=%E0%A4%A" } });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body).ok).toBe(true);
    const signedIn = await raw({ path: "/api/trpc/auth.me", headers: { cookie: `x=%; ${owner.cookie()}; z=%zz` } });
    expect(signedIn.status).toBe(200);
    expect(JSON.parse(signedIn.body).result.data).toMatchObject({ name: "Ines" });
    const grid = await raw({ path: "/api/runs/nope/grids/1.png", headers: { cookie: "x=%" } });
    expect(grid.status).toBe(401);
    expect(await handshake({ cookie: `x=%; ${owner.cookie()}`, transport: "websocket" })).toBe("connected");
  });

  it("sign-out ends the cookie: reused, it is UNAUTHORIZED on tRPC and the PNG routes, and socket.io refuses the handshake; so are the account's other cookies", async () => {
    const cleo = await signUp("Cleo");
    const laptop = cleo.p;
    const phone = person(server.url);
    await phone.api.auth.signIn.mutate({ email: cleo.email, password: PASSWORD });
    const old = laptop.cookie();
    expect(await handshake({ cookie: old, transport: "websocket" })).toBe("connected");

    await laptop.api.auth.signOut.mutate();
    expect(laptop.cookie()).toBe("");
    const replay = await raw({ path: "/api/trpc/sessions.list", headers: { cookie: old } });
    expect(replay.status).toBe(401);
    expect(JSON.parse(replay.body).error.data.code).toBe("UNAUTHORIZED");
    expect((await raw({ path: "/api/trpc/auth.me", headers: { cookie: old } })).body).toContain('"data":null');
    expect((await raw({ path: "/api/runs/any/grids/1.png", headers: { cookie: old } })).status).toBe(401);
    expect(await handshake({ cookie: old, transport: "websocket" })).toMatch(/UNAUTHORIZED/);
    // Sign-out ends the account's sessions everywhere.
    expect(await errorCode(phone.api.sessions.list.query())).toBe("UNAUTHORIZED");
    // Signing in again works, with a new cookie.
    const again = person(server.url);
    await again.api.auth.signIn.mutate({ email: cleo.email, password: PASSWORD });
    expect(await again.api.sessions.list.query()).toEqual([]);
    expect(await errorCode(phone.api.sessions.list.query())).toBe("UNAUTHORIZED");
  });

  it("a password change checks the current password, ends the account's other cookies, and keeps the caller signed in", async () => {
    const dan = await signUp("Dan");
    const other = person(server.url);
    await other.api.auth.signIn.mutate({ email: dan.email, password: PASSWORD });
    const before = dan.p.cookie();

    const wrong = await errorData(dan.p.api.auth.changePassword.mutate({ currentPassword: "not my password", newPassword: "a brand new secret" }));
    expect(wrong.code).toBe("BAD_REQUEST");
    expect((wrong as unknown as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(["currentPassword"]);
    expect(await errorCode(dan.p.api.auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: "short" }))).toBe("BAD_REQUEST");
    expect((await other.api.auth.me.query())?.name).toBe("Dan");

    expect(await dan.p.api.auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: "a brand new secret" })).toEqual({ ok: true });
    expect(dan.p.cookie()).not.toBe(before);
    expect((await dan.p.api.auth.me.query())?.name).toBe("Dan");
    expect(await other.api.auth.me.query()).toBeNull();
    expect(await errorCode(other.api.sessions.list.query())).toBe("UNAUTHORIZED");
    expect((await raw({ path: "/api/trpc/sessions.list", headers: { cookie: before } })).status).toBe(401);
    expect(await handshake({ cookie: other.cookie(), transport: "websocket" })).toMatch(/UNAUTHORIZED/);
    expect(await handshake({ cookie: dan.p.cookie(), transport: "websocket" })).toBe("connected");

    expect(await errorCode(person(server.url).api.auth.signIn.mutate({ email: dan.email, password: PASSWORD }))).toBe("UNAUTHORIZED");
    await person(server.url).api.auth.signIn.mutate({ email: dan.email, password: "a brand new secret" });
  });
});

describe("socket.io Origin", () => {
  it("refuses a handshake from another origin (WebSocket and polling), with the reason; accepts the server's own origin and no Origin", async () => {
    const cookie = owner.cookie();
    const own = new URL(server.url).origin;
    expect(await handshake({ cookie, origin: "https://evil.example", transport: "websocket" })).not.toBe("connected");
    expect(await handshake({ cookie, origin: "https://evil.example", transport: "polling" })).not.toBe("connected");
    expect(await handshake({ cookie, origin: `http://127.0.0.1.evil.example:${server.port}`, transport: "websocket" })).not.toBe("connected");
    expect(await handshake({ cookie, origin: `https://evil.example`, transport: "websocket" })).not.toBe("connected");
    expect(await handshake({ cookie, origin: "null", transport: "websocket" })).not.toBe("connected");
    expect(await handshake({ cookie, origin: own, transport: "websocket" })).toBe("connected");
    expect(await handshake({ cookie, origin: own, transport: "polling" })).toBe("connected");
    expect(await handshake({ cookie, transport: "websocket" })).toBe("connected");

    // What a browser's page sees: HTTP 403 and the reason, before any session cookie is looked at.
    const polling = await raw({ path: "/api/socket/?EIO=4&transport=polling", headers: { origin: "https://evil.example", cookie } });
    expect(polling.status).toBe(403);
    expect(JSON.parse(polling.body).message).toMatch(/^FORBIDDEN: pages from "https:\/\/evil.example" may not open a live connection to this server/);
    const ok = await raw({ path: "/api/socket/?EIO=4&transport=polling", headers: { origin: own, cookie } });
    expect(ok.status).toBe(200);
  });
});

describe("invites", () => {
  const tokenOf = (invite: { token: string }) => invite.token;

  it("inviteInfo says who invites you to which session and as what, until when, and joins nothing", async () => {
    const ana = await signUp("Ana");
    const invite = await owner.api.sessions.createInvite.mutate({ sessionId, role: "editor", maxUses: 3 });
    const info = await ana.p.api.sessions.inviteInfo.query({ token: tokenOf(invite) });
    expect(info).toMatchObject({
      sessionName: "Digits",
      invitedBy: "Ines",
      role: "editor",
      joinsAs: "editor",
      memberRole: null,
      sessionId: null,
      ceiling: null,
      usesLeft: 3,
    });
    // The default expiry: GAN_INVITE_DEFAULT_DAYS (7) from now.
    const days = (new Date(info.expiresAt!).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThanOrEqual(7);
    expect(await errorCode(ana.p.api.sessions.get.query({ sessionId }))).toBe("FORBIDDEN");
    expect((await owner.api.sessions.invites.query({ sessionId })).find((i) => i.id === invite.id)).toMatchObject({ uses: 0, maxUses: 3 });
    expect(await errorCode(person(server.url).api.sessions.inviteInfo.query({ token: tokenOf(invite) }))).toBe("UNAUTHORIZED");

    const bogus = await errorData(ana.p.api.sessions.inviteInfo.query({ token: "this-is-not-a-real-invite-token" }));
    expect(bogus).toMatchObject({ code: "NOT_FOUND", invite: { reason: "unknown" } });

    expect(await ana.p.api.sessions.acceptInvite.mutate({ token: tokenOf(invite) })).toEqual({ sessionId, role: "editor" });
    expect(await ana.p.api.sessions.inviteInfo.query({ token: tokenOf(invite) })).toMatchObject({
      memberRole: "editor",
      joinsAs: "editor",
      sessionId,
      usesLeft: 2,
    });
    // Accepting again as a member it would not raise changes nothing and uses nothing.
    expect(await ana.p.api.sessions.acceptInvite.mutate({ token: tokenOf(invite) })).toEqual({ sessionId, role: "editor" });
    expect((await owner.api.sessions.invites.query({ sessionId })).find((i) => i.id === invite.id)).toMatchObject({ uses: 1 });
    const joined = (await owner.api.sessions.activity.query({ sessionId })).filter((a) => a.kind === "member.joined" && a.userName === "Ana");
    expect(joined).toHaveLength(1);
    expect(joined[0]!.detail).toEqual({ role: "editor" });
  });

  it("an expired invite is refused, saying so; the owner's chosen expiry is kept", async () => {
    const eli = await signUp("Eli");
    const invite = await owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer", expiresInDays: 1 });
    const days = (new Date(invite.expiresAt).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(0.99);
    expect(days).toBeLessThanOrEqual(1);
    expect(await errorCode(owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer", expiresInDays: 400 }))).toBe("BAD_REQUEST");
    expect(await errorCode(owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer", maxUses: 0 }))).toBe("BAD_REQUEST");

    await server.store.prisma.invite.update({ where: { id: invite.id }, data: { expiresAt: new Date(Date.now() - 60_000) } });
    const info = await errorData(eli.p.api.sessions.inviteInfo.query({ token: tokenOf(invite) }));
    expect(info).toMatchObject({ code: "NOT_FOUND", invite: { reason: "expired" } });
    const accept = eli.p.api.sessions.acceptInvite.mutate({ token: tokenOf(invite) });
    expect(await errorMessage(accept)).toMatch(/^this invite link expired on \d{4}-\d\d-\d\d \d\d:\d\d UTC: ask the session's owner for a new one$/);
    expect(await errorCode(eli.p.api.sessions.get.query({ sessionId }))).toBe("FORBIDDEN");
  });

  it("a one-use invite: the second accept is refused as used up; of two concurrent accepts exactly one wins", async () => {
    const [fay, gus, hal, ida] = [await signUp("Fay"), await signUp("Gus"), await signUp("Hal"), await signUp("Ida")];
    const once = await owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer", maxUses: 1 });
    expect(await fay.p.api.sessions.acceptInvite.mutate({ token: once.token })).toEqual({ sessionId, role: "viewer" });
    const second = await errorData(gus.p.api.sessions.acceptInvite.mutate({ token: once.token }));
    expect(second).toMatchObject({ code: "NOT_FOUND", invite: { reason: "usedUp" } });
    expect(await errorMessage(gus.p.api.sessions.acceptInvite.mutate({ token: once.token }))).toMatch(/used up \(1 of 1 uses\)/);

    const race = await owner.api.sessions.createInvite.mutate({ sessionId, role: "editor", maxUses: 1 });
    const results = await Promise.allSettled([
      hal.p.api.sessions.acceptInvite.mutate({ token: race.token }),
      ida.p.api.sessions.acceptInvite.mutate({ token: race.token }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect((lost.reason as TRPCClientError<never>).data).toMatchObject({ code: "NOT_FOUND", invite: { reason: "usedUp" } });
    const members = (await owner.api.sessions.get.query({ sessionId })).members.map((m) => m.name);
    expect(members.filter((n) => n === "Hal" || n === "Ida")).toHaveLength(1);
    expect((await owner.api.sessions.invites.query({ sessionId })).find((i) => i.id === race.id)).toMatchObject({ uses: 1, maxUses: 1 });
  });

  it("a removed member cannot come back through an old link; a link made after the removal lets them in at its role, and old links still do nothing", async () => {
    const max = await signUp("Max");
    const editorLink = await owner.api.sessions.createInvite.mutate({ sessionId, role: "editor" });
    expect(await max.p.api.sessions.acceptInvite.mutate({ token: editorLink.token })).toEqual({ sessionId, role: "editor" });
    await owner.api.sessions.removeMember.mutate({ sessionId, userId: max.id });

    const info = await errorData(max.p.api.sessions.inviteInfo.query({ token: editorLink.token }));
    expect(info).toMatchObject({ code: "FORBIDDEN", invite: { reason: "removed" } });
    const again = await errorData(max.p.api.sessions.acceptInvite.mutate({ token: editorLink.token }));
    expect(again).toMatchObject({ code: "FORBIDDEN", invite: { reason: "removed" } });
    expect(await errorCode(max.p.api.sessions.get.query({ sessionId }))).toBe("FORBIDDEN");
    // The link still works for others.
    const newcomer = await signUp("Nia");
    expect(await newcomer.p.api.sessions.acceptInvite.mutate({ token: editorLink.token })).toEqual({ sessionId, role: "editor" });

    const viewerLink = await owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer" });
    expect(await max.p.api.sessions.acceptInvite.mutate({ token: viewerLink.token })).toEqual({ sessionId, role: "viewer" });
    expect(await max.p.api.sessions.acceptInvite.mutate({ token: editorLink.token })).toEqual({ sessionId, role: "viewer" });
    expect((await max.p.api.sessions.get.query({ sessionId })).role).toBe("viewer");
    const ceiling = await server.store.getCeiling(sessionId, max.id);
    expect(ceiling).toMatchObject({ role: "none", setById: ownerId });
  });

  it("a demoted member stays a viewer through an old (or new) editor link until the owner promotes them", async () => {
    const [ona] = [await signUp("Ona")];
    const editorLink = await owner.api.sessions.createInvite.mutate({ sessionId, role: "editor" });
    await ona.p.api.sessions.acceptInvite.mutate({ token: editorLink.token });
    await owner.api.sessions.setRole.mutate({ sessionId, userId: ona.id, role: "viewer" });

    const info = await ona.p.api.sessions.inviteInfo.query({ token: editorLink.token });
    expect(info).toMatchObject({ role: "editor", joinsAs: "viewer", memberRole: "viewer", ceiling: "viewer" });
    expect(await ona.p.api.sessions.acceptInvite.mutate({ token: editorLink.token })).toEqual({ sessionId, role: "viewer" });
    const fresh = await owner.api.sessions.createInvite.mutate({ sessionId, role: "editor" });
    expect(await ona.p.api.sessions.acceptInvite.mutate({ token: fresh.token })).toEqual({ sessionId, role: "viewer" });
    expect((await ona.p.api.sessions.get.query({ sessionId })).role).toBe("viewer");

    await owner.api.sessions.setRole.mutate({ sessionId, userId: ona.id, role: "editor" });
    expect((await ona.p.api.sessions.get.query({ sessionId })).role).toBe("editor");
    expect(await server.store.getCeiling(sessionId, ona.id)).toBeNull();
  });

  it("invite look-ups and acceptances are rate limited per account and per address (GAN_INVITE_ACCEPT_PER_IP: 30 per 15 minutes)", async () => {
    // The owner looked up no link so far: 20 guesses from one address, then 10 from another, then the account is full.
    const guess = (from: string, cookie: string, i: number, kind: "accept" | "info" = "accept") =>
      kind === "accept"
        ? raw({ from, path: "/api/trpc/sessions.acceptInvite", body: { token: `guessed-token-number-${i}` }, headers: { cookie } })
        : raw({ from, path: `/api/trpc/sessions.inviteInfo?input=${encodeURIComponent(JSON.stringify({ token: `guessed-${i}` }))}`, headers: { cookie } });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await guess("127.0.0.6", owner.cookie(), i)).status);
    for (let i = 20; i < 30; i++) statuses.push((await guess("127.0.0.7", owner.cookie(), i, i % 2 ? "info" : "accept")).status);
    expect(statuses).toEqual(Array(30).fill(404));
    const full = await guess("127.0.0.7", owner.cookie(), 30);
    expect(full.status).toBe(429);
    expect(JSON.parse(full.body).error.message).toMatch(/^too many invite links tried by your account: try again in 1[45] minutes$/);

    // Another account on the first address has the 10 points the address has left.
    const rex = await signUp("Rex");
    const more: number[] = [];
    for (let i = 0; i < 11; i++) more.push((await guess("127.0.0.6", rex.p.cookie(), 100 + i, "info")).status);
    expect(more).toEqual([...Array(10).fill(404), 429]);
    const byAddress = await guess("127.0.0.6", rex.p.cookie(), 200);
    expect(JSON.parse(byAddress.body).error).toMatchObject({
      message: expect.stringMatching(/^too many invite links tried from your address/),
      data: { quota: { name: "rateLimit", limit: 30 } },
    });
  });
});
