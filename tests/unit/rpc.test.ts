/**
 * The child-process RPC module (server/rpc/) against real child processes: tests/helpers/rpc-peer.ts, forked
 * through tsx by ChildProcessTransport, answers, answers late, answers garbage, crashes and exits with stderr.
 */
import { readdirSync, readFileSync } from "node:fs";
import { getPriority } from "node:os";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ChildProcessTransport } from "../../server/rpc/child-process";
import { RpcClient, RpcError, type RpcClientOptions, type RpcEnd } from "../../server/rpc/client";

const PEER = fileURLToPath(new URL("../helpers/rpc-peer.ts", import.meta.url));
const v = z.literal(1);
const PeerMessage = z.discriminatedUnion("type", [
  z.object({ v, type: z.literal("hello"), pid: z.number().int() }),
  z.object({
    v,
    type: z.literal("reply"),
    requestId: z.string(),
    ok: z.boolean(),
    data: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  }),
  z.object({ v, type: z.literal("progress"), requestId: z.string(), done: z.number() }),
  z.object({ v, type: z.literal("event"), value: z.unknown() }),
]);
type PeerMessage = z.infer<typeof PeerMessage>;
const Value = z.object({ value: z.number() });

const started: ChildProcessTransport[] = [];
afterAll(async () => {
  for (const t of started) t.kill("SIGKILL");
  await Promise.all(started.map((t) => (t.ended ? null : new Promise((r) => t.onEnd(r)))));
});

interface Peer {
  transport: ChildProcessTransport;
  rpc: RpcClient<PeerMessage>;
  logged: string[];
  bad: string[];
  events: PeerMessage[];
  ended: Promise<RpcEnd>;
}

function peer(opts: { args?: string[]; client?: Partial<RpcClientOptions<PeerMessage>>; niceness?: number } = {}): Peer {
  const transport = new ChildProcessTransport({
    entry: PEER,
    args: opts.args ?? [],
    env: process.env,
    label: "fixture",
    ...(opts.niceness !== undefined ? { niceness: opts.niceness } : {}),
  });
  started.push(transport);
  const logged: string[] = [];
  const bad: string[] = [];
  const events: PeerMessage[] = [];
  let markEnded!: (end: RpcEnd) => void;
  const ended = new Promise<RpcEnd>((r) => (markEnded = r));
  const rpc = new RpcClient<PeerMessage>({
    transport,
    name: "the fixture process",
    version: 1,
    incoming: PeerMessage,
    timeoutMs: 10_000,
    route: (m) => {
      if (m.type === "progress") return { requestId: m.requestId, progress: true };
      if (m.type !== "reply") return undefined;
      if (m.ok) return { requestId: m.requestId, ok: true, data: m.data };
      return { requestId: m.requestId, ok: false, code: m.error?.code ?? "INTERNAL", message: m.error?.message ?? "failed" };
    },
    handshake: { isHello: (m) => m.type === "hello", timeoutMs: 20_000 },
    onMessage: (m) => events.push(m),
    onBadMessage: (p) => bad.push(p),
    onEnd: markEnded,
    log: (line) => logged.push(line),
    ...opts.client,
  });
  return { transport, rpc, logged, bad, events, ended };
}

const rejection = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e as RpcError,
  );

describe("requests and replies", () => {
  const p = peer();
  afterAll(() => p.rpc.disconnect());

  it("matches replies to their requests by id, whatever order they come in", async () => {
    const order: number[] = [];
    const asks = [300, 150, 0].map((delayMs, i) =>
      p.rpc.request({ v: 1, type: "echo", value: i, delayMs }, { reply: Value }).then((r) => {
        order.push(r.value);
        return r.value;
      }),
    );
    expect(await Promise.all(asks)).toEqual([0, 1, 2]);
    expect(order).toEqual([2, 1, 0]); // the last asked answered first
    expect(p.rpc.pendingCount).toBe(0);
  });

  it("sends what was posted before the hello after it, in order, and hands non-replies to onMessage", async () => {
    expect(p.rpc.greeted).toBe(true);
    expect(p.rpc.send({ v: 1, type: "ping" })).toBe(true);
    await expect(p.rpc.request({ v: 1, type: "received" })).resolves.toMatchObject({ value: expect.arrayContaining(["echo", "ping"]) });
    expect(p.events).toContainEqual({ v: 1, type: "event", value: "pong" });
  });

  it("a request without a reply rejects with TIMEOUT; a late reply is dropped and the next request works", async () => {
    const hang = await rejection(p.rpc.request({ v: 1, type: "hang" }, { timeoutMs: 200 }));
    expect(hang).toBeInstanceOf(RpcError);
    expect(hang).toMatchObject({ code: "TIMEOUT", message: 'the fixture process did not answer "hang" within 200 ms' });
    const late = await rejection(p.rpc.request({ v: 1, type: "echo", value: 1, delayMs: 400 }, { timeoutMs: 100 }));
    expect(late.code).toBe("TIMEOUT");
    await new Promise((r) => setTimeout(r, 500)); // the late reply arrives meanwhile
    await expect(p.rpc.request({ v: 1, type: "echo", value: 7 }, { reply: Value })).resolves.toEqual({ value: 7 });
    expect(p.bad).toEqual([]);
  });

  it("progress reports renew the timeout and reach the request's listener", async () => {
    const seen: number[] = [];
    const r = await p.rpc.request(
      { v: 1, type: "progress", count: 5, everyMs: 100 },
      { reply: Value, timeoutMs: 250, onProgress: (m) => m.type === "progress" && seen.push(m.done) },
    );
    expect(r).toEqual({ value: 5 });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it("a reply whose data fails its schema rejects with BAD_REPLY and is logged, never resolved", async () => {
    const e = await rejection(p.rpc.request({ v: 1, type: "garbage" }, { reply: Value }));
    expect(e).toMatchObject({ code: "BAD_REPLY", message: expect.stringMatching(/^the fixture process sent a malformed reply to "garbage": value: /) });
    expect(p.logged.at(-1)).toMatch(/protocol error: malformed reply to "garbage"/);
    expect(p.bad).toHaveLength(1);
  });

  it("a message that fails the protocol's schema rejects the request it names with BAD_REPLY", async () => {
    const e = await rejection(p.rpc.request({ v: 1, type: "malformed" }));
    expect(e).toMatchObject({ code: "BAD_REPLY", message: expect.stringMatching(/malformed reply to "malformed"/) });
    expect(p.bad.at(-1)).toMatch(/^malformed "reply" message: /);
    expect(p.logged).toHaveLength(2);
  });

  it("passes the peer's own error codes through", async () => {
    const e = await rejection(p.rpc.request({ v: 1, type: "fail", code: "NOT_READY", message: "still building" }));
    expect(e).toBeInstanceOf(RpcError);
    expect(e).toMatchObject({ code: "NOT_READY", message: "still building" });
  });

  it("refuses a request that fails the outgoing schema with BAD_REQUEST, sending nothing", async () => {
    const q = peer({ client: { outgoing: z.object({ v, type: z.literal("echo"), requestId: z.string(), value: z.number() }) } });
    const e = await rejection(q.rpc.request({ v: 1, type: "echo", value: "seven" }));
    expect(e).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^bad "echo" command: value: /) });
    await expect(q.rpc.request({ v: 1, type: "echo", value: 7 }, { reply: Value })).resolves.toEqual({ value: 7 });
    q.rpc.disconnect();
    expect(await q.ended).toMatchObject({ code: 0, signal: null, reason: "the fixture process exited" });
  });
});

describe("when the peer goes", () => {
  it("SIGKILL rejects every pending request with EXITED and a readable reason; later requests too", async () => {
    const p = peer();
    await p.rpc.request({ v: 1, type: "echo", value: 1 });
    const pending = [p.rpc.request({ v: 1, type: "hang" }), p.rpc.request({ v: 1, type: "echo", value: 2, delayMs: 5000 })].map(rejection);
    process.kill(p.transport.pid, "SIGKILL"); // from outside, as the kernel's OOM killer would
    const end = await p.ended;
    expect(end).toMatchObject({ code: null, signal: "SIGKILL", reason: "the fixture process was killed by SIGKILL" });
    for (const e of await Promise.all(pending)) {
      expect(e).toBeInstanceOf(RpcError);
      expect(e).toMatchObject({ code: "EXITED", message: "the fixture process exited before answering: the fixture process was killed by SIGKILL" });
    }
    expect(p.rpc.pendingCount).toBe(0);
    await expect(p.rpc.request({ v: 1, type: "echo", value: 3 })).rejects.toMatchObject({
      code: "EXITED",
      message: "the fixture process has exited: the fixture process was killed by SIGKILL",
    });
    expect(p.rpc.send({ v: 1, type: "ping" })).toBe(false);
  });

  it("a crash: exit code 1 and the error line of stderr, not the stack", async () => {
    const p = peer();
    const e = await rejection(p.rpc.request({ v: 1, type: "crash" }));
    expect(e).toMatchObject({
      code: "EXITED",
      message: expect.stringMatching(/exited before answering: the fixture process exited with code 1: Error: boom$/),
    });
    expect((await p.ended).reason).toBe("the fixture process exited with code 1: Error: boom");
  });

  it("an exit with a message on stderr: the code and the last error line", async () => {
    const p = peer();
    const stderr = "warming up\nFatalError: the disk is on fire\n    at nowhere (x.ts:1:1)\nsomething after\n";
    const e = await rejection(p.rpc.request({ v: 1, type: "exit", code: 3, stderr }));
    expect(e.code).toBe("EXITED");
    expect(await p.ended).toMatchObject({ code: 3, signal: null, reason: "the fixture process exited with code 3: FatalError: the disk is on fire" });
    expect(p.transport.stderrTail).toBe(stderr);
  });

  it("a kill with a reason: the reason is the end's", async () => {
    const p = peer();
    const pending = rejection(p.rpc.request({ v: 1, type: "hang" }));
    p.rpc.kill("SIGKILL", "the fixture was too slow and was killed by SIGKILL");
    expect((await p.ended).reason).toBe("the fixture was too slow and was killed by SIGKILL");
    expect((await pending).message).toBe("the fixture process exited before answering: the fixture was too slow and was killed by SIGKILL");
  });
});

describe("the handshake", () => {
  it("queues what is sent before the hello and sends the handshake's first message ahead of it", async () => {
    const p = peer({ client: { handshake: { isHello: (m) => m.type === "hello", timeoutMs: 20_000, first: { v: 1, type: "start" } } } });
    expect(p.rpc.greeted).toBe(false);
    p.rpc.send({ v: 1, type: "ping" });
    const r = await p.rpc.request({ v: 1, type: "received" }, { reply: z.object({ value: z.array(z.string()) }) });
    expect(r.value).toEqual(["start", "ping"]);
    expect(p.rpc.greeted).toBe(true);
    p.rpc.disconnect();
    await p.ended;
  });

  it("no hello within the start timeout: killed with a reason; queued requests reject with it", async () => {
    const p = peer({ args: ["1", "silent"], client: { handshake: { isHello: (m) => m.type === "hello", timeoutMs: 300 } } });
    const e = await rejection(p.rpc.request({ v: 1, type: "echo", value: 1 }));
    expect(e).toMatchObject({ code: "EXITED", message: "the fixture process exited before answering: the fixture process did not start within 300 ms" });
    expect(await p.ended).toMatchObject({ signal: "SIGKILL", reason: "the fixture process did not start within 300 ms" });
  });

  it("a peer of another protocol version is killed with a reason naming both", async () => {
    const p = peer({ args: ["2"] });
    const end = await p.ended;
    expect(end).toMatchObject({ signal: "SIGKILL", reason: "the fixture process speaks protocol version 2, this server speaks 1" });
  });
});

/** The nice value of every thread of a process (Linux keeps one per thread): field 19 of /proc/PID/task/TID/stat. */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  });
}

describe("priority", () => {
  it.runIf(process.platform === "linux")("a child started with a niceness runs every thread of it that much below this process, and still talks", async () => {
    const own = getPriority();
    const p = peer({ niceness: 7 });
    expect(await p.rpc.request({ v: 1, type: "echo", value: 3 }, { reply: Value })).toEqual({ value: 3 });
    const niceness = threadNiceness(p.transport.pid);
    expect(niceness.length).toBeGreaterThan(1);
    expect(new Set(niceness)).toEqual(new Set([Math.min(19, own + 7)]));
    const plain = peer();
    expect(await plain.rpc.request({ v: 1, type: "echo", value: 4 }, { reply: Value })).toEqual({ value: 4 });
    expect(new Set(threadNiceness(plain.transport.pid))).toEqual(new Set([own]));
  });
});
