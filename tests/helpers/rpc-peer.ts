/**
 * A tiny peer for tests/unit/rpc.test.ts, forked through tsx by ChildProcessTransport. It speaks a toy protocol
 * (`v`, `type`, `requestId`) and misbehaves on request: answers late, answers garbage, crashes, exits with stderr.
 *
 * argv: [version to speak (default 1), "hello" | "silent" (default hello)].
 * Requests (each with a requestId): echo { value, delayMs } · fail { code, message } · garbage (data of the wrong
 * shape) · malformed (a reply that is not a reply) · progress { count, everyMs } · hang · crash · exit { code,
 * stderr } · received (the types received so far). Without a requestId: ping → an event "pong".
 */
const version = Number(process.argv[2] ?? 1);
const greet = (process.argv[3] ?? "hello") === "hello";
const received: string[] = [];

const send = (m: Record<string, unknown>) => process.send?.({ v: version, ...m });
const reply = (requestId: unknown, data: unknown) => send({ type: "reply", requestId, ok: true, data });
const later = (ms: number, fn: () => void) => setTimeout(fn, ms);

process.on("message", (raw) => {
  const m = raw as { type: string; requestId?: string } & Record<string, unknown>;
  received.push(m.type);
  const id = m.requestId;
  switch (m.type) {
    case "ping":
      return void send({ type: "event", value: "pong" });
    case "echo":
      return void later(Number(m.delayMs ?? 0), () => reply(id, { value: m.value }));
    case "fail":
      return void send({ type: "reply", requestId: id, ok: false, error: { code: m.code, message: m.message } });
    case "garbage":
      return void reply(id, { value: "not a number" });
    case "malformed":
      return void send({ type: "reply", requestId: id, ok: "yes" });
    case "progress": {
      const count = Number(m.count ?? 3);
      for (let i = 1; i <= count; i++) later(i * Number(m.everyMs ?? 50), () => send({ type: "progress", requestId: id, done: i }));
      return void later((count + 1) * Number(m.everyMs ?? 50), () => reply(id, { value: count }));
    }
    case "hang":
      return;
    case "crash":
      return void setImmediate(() => {
        throw new Error("boom");
      });
    case "exit":
      process.stderr.write(String(m.stderr ?? ""));
      return void process.stderr.write("", () => process.exit(Number(m.code ?? 1)));
    case "received":
      return void reply(id, { value: received.slice(0, -1) });
    default:
      return;
  }
});
process.on("disconnect", () => process.exit(0));
if (greet) send({ type: "hello", pid: process.pid });
