/**
 * The abuse suite: a real server, a team whose run trains (real trainer process, wasm) while a viewer watches over
 * socket.io, and a freshly signed-up stranger (and an ex-member) who plays every attack the hardening issue found.
 * Each attack asserts the attacker's typed error; around every attack a prober asks /api/health every 50 ms and the
 * attack fails if one answer took a second or more; at the end the team's run has kept training and its viewer
 * has kept receiving. Generated malformed tRPC inputs and socket messages (a few thousand) get a typed error each.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { startServer, type RunningServer } from "../../server/app";
import { appRouter } from "../../server/trpc/root";
import { connect, errorCode, person, waitFor, type ClientSocket, type Person } from "../helpers/clients";
import { testEnv } from "../helpers/env";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-abuse-"));
let server: RunningServer;
let owner: Person;
let viewer: Person;
let attacker: Person;
let sessionId: string;
let runId: string;
let viewerSocket: ClientSocket;
let pointsSeen = 0;
const sockets: ClientSocket[] = [];

const trainingConfig = { network: "small-dcgan", diagnostics: false, batchSize: 8, limit: 48, maxEpoch: 10_000, seed: 5, sampleColumns: 2 };

/** Asks /api/health every 50 ms while `attack` runs; returns the attack's result and the slowest answer in ms. */
async function whileProbing<T>(attack: () => Promise<T>): Promise<{ result: T; slowestMs: number; answers: number }> {
  let stop = false;
  let slowestMs = 0;
  let answers = 0;
  const probe = (async () => {
    while (!stop) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/api/health`);
      await res.arrayBuffer();
      slowestMs = Math.max(slowestMs, performance.now() - t0);
      if (res.status === 200) answers++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    const result = await attack();
    return { result, slowestMs, answers };
  } finally {
    stop = true;
    await probe;
  }
}

/** Sends a body of `bytes` bytes (generated in 1 MiB chunks, never held whole) and returns the status and JSON answer. */
function sendBody(
  pathname: string,
  opts: { bytes: number; contentType: string; declareLength: boolean; cookie?: string; method?: string },
): Promise<{ status: number; body: { error?: { code?: string | number; message?: string; data?: { code?: string } } }; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    const url = new URL(pathname, server.url);
    const headers: Record<string, string> = { "content-type": opts.contentType };
    if (opts.declareLength) headers["content-length"] = String(opts.bytes);
    if (opts.cookie) headers.cookie = opts.cookie;
    const req = httpRequest(url, { method: opts.method ?? "POST", headers });
    let sent = 0;
    let answered = false;
    const chunk = Buffer.alloc(2 ** 20, "[");
    req.on("response", (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => {
        req.destroy();
        const text = Buffer.concat(parts).toString("utf8");
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as never) : {}, sentBytes: sent });
      });
    });
    // The server closes the connection once it refused: writing further fails, which is the point.
    req.on("error", (e) => {
      if (!answered) reject(e);
    });
    const pump = () => {
      while (sent < opts.bytes && !answered) {
        const n = Math.min(chunk.length, opts.bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

/** Child processes of this test process (the server runs in it): trainers, generators, importers. */
function childProcesses(): number {
  try {
    return execFileSync("ps", ["--ppid", String(process.pid), "-o", "pid="], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean).length;
  } catch {
    return 0;
  }
}

beforeAll(async () => {
  server = await startServer(testEnv(tmp));
  owner = person(server.url);
  viewer = person(server.url);
  attacker = person(server.url);
  await owner.api.auth.signUp.mutate({ email: "tess@example.com", name: "Tess", password: "correct horse" });
  await viewer.api.auth.signUp.mutate({ email: "vera@example.com", name: "Vera", password: "battery staple" });
  await attacker.api.auth.signUp.mutate({ email: "mallory@example.com", name: "Mallory", password: "mallory's pass" });
  sessionId = (await owner.api.sessions.create.mutate({ name: "The team's session" })).id;
  const invite = await owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer" });
  await viewer.api.sessions.acceptInvite.mutate({ token: invite.token });
  runId = (await owner.api.runs.create.mutate({ sessionId, name: "keeps training", config: trainingConfig })).id;
  viewerSocket = await connect(server.url, viewer.cookie());
  sockets.push(viewerSocket);
  viewerSocket.on("run:losses", (p) => {
    if (p.runId === runId) pointsSeen += p.points.length;
  });
  await viewerSocket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, runId });
  const first = waitFor(viewerSocket, "run:losses", (p) => p.runId === runId, 120_000);
  await owner.api.runs.start.mutate({ runId });
  await first;
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("abuse: bodies", () => {
  it("a 300 MiB JSON body to the upload route is refused before it is read (415), and health keeps answering", async () => {
    const { result, slowestMs } = await whileProbing(() =>
      sendBody("/api/trpc/datasets.upload", { bytes: 300 * 2 ** 20, contentType: "application/json", declareLength: true, cookie: attacker.cookie() }),
    );
    expect(result.status).toBe(415);
    expect(result.body.error?.data?.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(result.sentBytes).toBeLessThan(300 * 2 ** 20);
    expect(slowestMs).toBeLessThan(1000);
  });

  it("a JSON body over the cap is refused by its declared length (413) and, undeclared, while it streams", async () => {
    const declared = await sendBody("/api/trpc/runs.create", {
      bytes: 300 * 2 ** 20,
      contentType: "application/json",
      declareLength: true,
      cookie: attacker.cookie(),
    });
    expect(declared.status).toBe(413);
    expect(declared.body.error?.data?.code).toBe("PAYLOAD_TOO_LARGE");
    const { result: chunked, slowestMs } = await whileProbing(() =>
      sendBody("/api/trpc/runs.create", { bytes: 64 * 2 ** 20, contentType: "application/json", declareLength: false, cookie: attacker.cookie() }),
    );
    expect(chunked.status).toBe(413);
    expect(chunked.sentBytes).toBeLessThan(64 * 2 ** 20);
    expect(slowestMs).toBeLessThan(1000);
  });

  it("an upload larger than allowed is refused by its declared length, other content types and methods too", async () => {
    const big = await sendBody("/api/trpc/datasets.upload", {
      bytes: 600 * 2 ** 20,
      contentType: "application/octet-stream",
      declareLength: true,
      cookie: attacker.cookie(),
    });
    expect(big.status).toBe(413);
    expect(big.sentBytes).toBeLessThan(600 * 2 ** 20);
    const form = await sendBody("/api/trpc/datasets.upload", {
      bytes: 1000,
      contentType: "multipart/form-data; boundary=x",
      declareLength: true,
      cookie: attacker.cookie(),
    });
    expect(form.status).toBe(415);
    const text = await sendBody("/api/trpc/sessions.create", { bytes: 10, contentType: "text/plain", declareLength: true, cookie: attacker.cookie() });
    expect(text.status).toBe(415);
    const put = await sendBody("/api/health", { bytes: 10, contentType: "application/json", declareLength: true, method: "PUT" });
    expect(put.status).toBe(405);
    const getWithBody = await sendBody(`/api/runs/${runId}/grids/0.png`, {
      bytes: 10 * 2 ** 20,
      contentType: "application/json",
      declareLength: true,
      method: "GET",
    });
    expect(getWithBody.status).toBe(400);
  });

  it("a tRPC batch is bounded", async () => {
    const paths = Array.from({ length: 50 }, () => "auth.me").join(",");
    const res = await fetch(`${server.url}/api/trpc/${paths}?batch=1&input=${encodeURIComponent("{}")}`, { headers: { cookie: attacker.cookie() } });
    expect(res.status).toBe(400);
    const ok = await fetch(`${server.url}/api/trpc/${Array.from({ length: 10 }, () => "auth.me").join(",")}?batch=1&input=${encodeURIComponent("{}")}`, {
      headers: { cookie: attacker.cookie() },
    });
    expect(ok.status).toBe(200);
  });
});

describe("abuse: processes", () => {
  it("twelve RuntimeGenerator requests on twelve runs that never trained fork no process", async () => {
    const mine = (await attacker.api.sessions.create.mutate({ name: "Mallory's" })).id;
    const before = childProcesses();
    const { result: codes, slowestMs } = await whileProbing(async () => {
      const out: string[] = [];
      for (let i = 0; i < 12; i++) {
        const run = await attacker.api.runs.create.mutate({ sessionId: mine, name: `idle ${i}`, config: { network: "small-dcgan", diagnostics: false } });
        out.push(await errorCode(attacker.api.runs.generate.query({ runId: run.id, label: 1 })));
        const png = await attacker.fetch(`/api/runs/${run.id}/generate?label=1`);
        expect(png.status).toBe(409);
      }
      return out;
    });
    expect(new Set(codes)).toEqual(new Set(["CONFLICT"]));
    expect(childProcesses()).toBeLessThanOrEqual(before);
    expect(slowestMs).toBeLessThan(1000);
  });
});

describe("abuse: accounts", () => {
  it("a cookie that does not decode is ignored, never a 500", async () => {
    for (const cookie of ["x=%", "gan_studio=%E0%A4%A", `gan_studio=${"A".repeat(3000)}`, "=;;=%%"]) {
      const me = await fetch(`${server.url}/api/trpc/auth.me`, { headers: { cookie } });
      expect(me.status).toBe(200);
      const health = await fetch(`${server.url}/api/health`, { headers: { cookie } });
      expect(health.status).toBe(200);
    }
  });

  it("30 wrong sign-ins in a row for one account are refused past the limit, while the owner still signs in elsewhere", async () => {
    const guesser = person(server.url);
    const codes: string[] = [];
    const { slowestMs } = await whileProbing(async () => {
      for (let i = 0; i < 30; i++) codes.push(await errorCode(guesser.api.auth.signIn.mutate({ email: "tess@example.com", password: `guess number ${i}` })));
    });
    expect(codes.slice(0, 5)).toEqual(Array(5).fill("UNAUTHORIZED"));
    expect(codes.slice(-5)).toEqual(Array(5).fill("TOO_MANY_REQUESTS"));
    expect(slowestMs).toBeLessThan(1000);
    // The owner, from another address (a loopback alias), still signs in: the guesser cannot lock her out.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        new URL("/api/trpc/auth.signIn", server.url),
        { method: "POST", localAddress: "127.0.0.9", headers: { "content-type": "application/json" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ email: "tess@example.com", password: "correct horse" }));
    });
    expect(status).toBe(200);
  });

  it("a removed member cannot come back with the old invite link", async () => {
    const ex = person(server.url);
    const exId = (await ex.api.auth.signUp.mutate({ email: "eddie@example.com", name: "Eddie", password: "eddie's pass" })).id;
    const link = await owner.api.sessions.createInvite.mutate({ sessionId, role: "editor" });
    await ex.api.sessions.acceptInvite.mutate({ token: link.token });
    expect((await ex.api.sessions.get.query({ sessionId })).role).toBe("editor");
    await owner.api.sessions.removeMember.mutate({ sessionId, userId: exId });
    await expect(ex.api.sessions.acceptInvite.mutate({ token: link.token })).rejects.toMatchObject({
      data: { code: expect.stringMatching(/FORBIDDEN|NOT_FOUND|CONFLICT/) },
    });
    expect(await errorCode(ex.api.sessions.get.query({ sessionId }))).toBe("FORBIDDEN");
  });
});

describe("abuse: Configs", () => {
  it("a network of 85,000 layers or an outShape of 10⁷ is refused at runs.create with the numbers", async () => {
    const mine = (await attacker.api.sessions.list.query())[0]!.id;
    const layer = { type: "ReLU" };
    const huge = {
      name: "huge",
      z: { size: 10, distribution: "uniform" },
      image: { height: 28, width: 28, channels: 1 },
      numLabels: 10,
      generator: Array(85_000).fill(layer),
      discriminator: [layer],
      networks: [],
    };
    const { result, slowestMs } = await whileProbing(() =>
      attacker.api.runs.create.mutate({ sessionId: mine, name: "huge", config: { network: huge } }).catch((e: unknown) => e),
    );
    // Refused by the body cap (the request is over 256 KiB) or by the layer limit: either way a typed 4xx.
    expect((result as { data?: { code?: string } }).data?.code).toMatch(/BAD_REQUEST|PAYLOAD_TOO_LARGE/);
    const wide = { ...huge, generator: [{ type: "Affine", scope: "Affine", outShape: [10_000_000] }], networks: [] };
    const e = (await attacker.api.runs.create.mutate({ sessionId: mine, name: "wide", config: { network: wide } }).catch((x: unknown) => x)) as {
      data?: { code?: string };
      message: string;
    };
    expect(e.data?.code).toBe("BAD_REQUEST");
    expect(slowestMs).toBeLessThan(1000);
  });
});

/** A seeded generator of hostile JSON values: wrong types, huge numbers, long strings, deep nesting, odd keys. */
function hostile(seed: number) {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const value = (depth: number): unknown => {
    switch (Math.floor(rnd() * (depth > 3 ? 7 : 10))) {
      case 0:
        return pick([null, true, false, 0, -1, 1e308, -1e308, 2 ** 53, 0.5, Number.MAX_SAFE_INTEGER]);
      case 1:
        return pick(["", "x", "%", "../../etc/passwd", "<script>", "\u0000", "ds-00000000000000000000", "a".repeat(5000)]);
      case 2:
        return Math.floor(rnd() * 2 ** 32) - 2 ** 31;
      case 3:
        return pick(["runId", "sessionId", "token", "label"]).repeat(Math.floor(rnd() * 4));
      case 4:
        return crypto.randomUUID();
      case 5:
        return [];
      case 6:
        return {};
      case 7:
        return Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1));
      default: {
        const keys = [
          "runId",
          "sessionId",
          "label",
          "seed",
          "count",
          "config",
          "name",
          "token",
          "userId",
          "role",
          "value",
          "scope",
          "param",
          "network",
          "alpha",
          "files",
          "__proto__",
          "constructor",
        ];
        const o: Record<string, unknown> = {};
        for (let i = Math.floor(rnd() * 5); i > 0; i--) o[pick(keys)] = value(depth + 1);
        return o;
      }
    }
  };
  return { value, pick, rnd };
}

describe("abuse: fuzz", () => {
  it("thousands of malformed tRPC calls each get a typed 4xx error, never a 500", async () => {
    const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>)
      // Signing out or changing the fuzzer's password would only end its own session; the upload route is covered above.
      .filter(([name]) => !["auth.signOut", "auth.changePassword", "datasets.upload"].includes(name))
      .map(([name, p]) => ({ name, type: p._def.type }));
    const gen = hostile(42);
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    const { slowestMs } = await whileProbing(async () => {
      for (let i = 0; i < 2500; i++) {
        const p = gen.pick(procedures);
        const input = JSON.stringify(gen.value(0));
        const res =
          p.type === "query"
            ? await fetch(`${server.url}/api/trpc/${p.name}?input=${encodeURIComponent(input)}`, { headers: { cookie: attacker.cookie() } })
            : await fetch(`${server.url}/api/trpc/${p.name}`, {
                method: "POST",
                headers: { cookie: attacker.cookie(), "content-type": "application/json" },
                body: input,
              });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const body = (await res.json()) as { error?: { data?: { code?: string } } };
        if (res.status >= 500 || (res.status >= 400 && !body.error?.data?.code)) bad.push(`${p.name} ${input.slice(0, 200)} → ${res.status}`);
      }
    });
    expect(bad).toEqual([]);
    expect([...statuses.keys()].every((s) => s === 200 || (s >= 400 && s < 500))).toBe(true);
    expect(slowestMs).toBeLessThan(1000);
    // The fuzzer's own session still works.
    expect(await attacker.api.auth.me.query()).toMatchObject({ name: "Mallory" });
  });

  it("a NUL character in any text is refused with BAD_REQUEST on every database (PostgreSQL cannot store one), and nothing is made", async () => {
    const before = (await attacker.api.sessions.list.query()).length;
    expect(await errorCode(attacker.api.sessions.create.mutate({ name: "evil\u0000name" }))).toBe("BAD_REQUEST");
    expect(await errorCode(attacker.api.runs.get.query({ runId: "\u0000" }))).toBe("BAD_REQUEST");
    expect(await errorCode(attacker.api.runs.resume.mutate({ runId: `${runId}\u0000` }))).toBe("BAD_REQUEST");
    expect((await attacker.api.sessions.list.query()).length).toBe(before);
  });

  it("thousands of malformed socket messages each get an error reply or nothing, and the connection and room survive", async () => {
    const s = await connect(server.url, attacker.cookie());
    sockets.push(s);
    const gen = hostile(7);
    let replies = 0;
    const errors = new Set<string>();
    const emit = s.emit.bind(s) as unknown as (event: string, ...args: unknown[]) => void;
    for (let i = 0; i < 2000; i++) {
      const event = gen.pick(["join", "join", "join", "leave", "nonsense", "run:losses", "presence"]);
      if (event === "join") {
        const payload = gen.value(0);
        // Every other object carries the right version, so the fuzz also reaches the checks past the version's.
        const versioned = i % 2 === 0 && typeof payload === "object" && payload !== null && !Array.isArray(payload);
        const reply = await (s.timeout(5000).emitWithAck as unknown as (e: string, p: unknown) => Promise<{ error?: { code: string } }>)(
          "join",
          versioned ? { ...payload, v: SOCKET_PROTOCOL_VERSION } : payload,
        );
        replies++;
        expect(reply.error?.code).toBeDefined();
        errors.add(reply.error!.code);
      } else emit(event, gen.value(0));
    }
    expect(replies).toBeGreaterThan(500);
    expect([...errors].every((c) => ["BAD_REQUEST", "FORBIDDEN", "NOT_FOUND", "UNSUPPORTED_PROTOCOL"].includes(c))).toBe(true);
    // Both the version check and the checks past it were reached.
    expect(errors.has("UNSUPPORTED_PROTOCOL") && errors.has("BAD_REQUEST")).toBe(true);
    expect(s.connected).toBe(true);
    expect(viewerSocket.connected).toBe(true);
    // A message over 64 KiB closes the sender's connection before it is parsed; the others' stay.
    const closed = new Promise<string>((resolve) => s.once("disconnect", resolve));
    emit("join", { sessionId: "x".repeat(200_000) });
    expect(await closed).toMatch(/transport (close|error)/);
    expect(viewerSocket.connected).toBe(true);
  });
});

describe("after the attacks", () => {
  it("the team's run kept training and its viewer kept receiving", async () => {
    const before = pointsSeen;
    await waitFor(viewerSocket, "run:losses", (p) => p.runId === runId, 60_000);
    expect(pointsSeen).toBeGreaterThan(before);
    const health = await fetch(`${server.url}/api/health`);
    expect(await health.json()).toMatchObject({ ok: true, liveRuns: 1 });
    const history = await owner.api.runs.get.query({ runId });
    expect(history.run.status).toBe("running");
  });
});
