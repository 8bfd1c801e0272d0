/**
 * One RPC client for every peer the server talks to (trainer, RuntimeGenerator, importer), over any Transport:
 * - requests carry an id and a timeout (renewed by each progress message for that id); replies are matched by id,
 *   in whatever order they come;
 * - every incoming message is checked: its protocol version first (a peer of another version is killed with a
 *   reason saying both), then the protocol's zod schema, then the reply's own schema. A message that does not parse
 *   is logged and reported (`onBadMessage`), never acted on, and a reply that does not parse rejects its request
 *   with BAD_REPLY;
 * - the version handshake, where the protocol has one: messages sent before the peer's hello wait in an outbox and
 *   follow the handshake's first message; no hello within the start timeout kills the peer with a reason;
 * - when the peer goes, pending requests reject with EXITED and a readable reason (`describeEnd` in ./transport).
 * Every failure is an RpcError: TIMEOUT, EXITED, BAD_REPLY, BAD_REQUEST (an outgoing message failing its schema), or
 * the peer's own error code passed through (NOT_READY, NO_WEIGHTS, …).
 */
import type { z } from "zod";
import { describeEnd, type Transport, type TransportEnd } from "./transport";

/** The codes this module gives; a peer's own codes pass through beside them. */
export type RpcErrorCode = "TIMEOUT" | "EXITED" | "BAD_REPLY" | "BAD_REQUEST";

export class RpcError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    /** The peer's error as it sent it, when the error is the peer's. */
    readonly peerError?: unknown,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

/** What an incoming message is to the requests: an answer, a failure, or progress of one (undefined: none of them). */
export type ReplyRoute =
  | { requestId: string; ok: true; data: unknown }
  | { requestId: string; ok: false; code: string; message: string; error?: unknown }
  | { requestId: string; progress: true };

export type ReplyFailure = Extract<ReplyRoute, { ok: false }>;

/** How the peer went, with the reason worded for people. */
export interface RpcEnd extends TransportEnd {
  reason: string;
}

export interface RpcClientOptions<In> {
  transport: Transport;
  /** The peer in messages: "the trainer process". */
  name: string;
  /** The prefix of log lines (default `name`): "trainer run-1". */
  label?: string;
  /** The protocol version every incoming message must carry as `v`. */
  version: number;
  /** Every message the peer may send. */
  incoming: z.ZodType<In>;
  /** Which incoming messages answer requests. */
  route: (message: In) => ReplyRoute | undefined;
  /** When given, every request is parsed with it before it is sent (BAD_REQUEST when it does not parse). */
  outgoing?: z.ZodType<unknown>;
  /** How long a request waits for its reply (default 30 s); per request with `timeoutMs`. */
  timeoutMs?: number;
  /** The peer's hello: what it looks like, how long it may take, what to send first once it came. */
  handshake?: { isHello: (message: In) => boolean; timeoutMs: number; first?: unknown };
  /** Messages that are no reply (events, ready, fatal). */
  onMessage?: (message: In) => void;
  /** A message that did not parse, or a reply whose data did not (it is logged too): "malformed "x" message: …". */
  onBadMessage?: (problem: string) => void;
  /** The reason for the end (default {@link describeEnd}); pending requests are rejected with it. */
  describeEnd?: (end: TransportEnd) => string;
  /** Called once, after the pending requests were rejected. */
  onEnd?: (end: RpcEnd) => void;
  /** Turns a peer's error reply into the error its request rejects with (default: an RpcError with the peer's code). */
  peerError?: (failure: ReplyFailure) => Error;
  /** Where problems are logged (default console.error). */
  log?: (line: string) => void;
}

export interface RequestOptions<T, M = unknown> {
  /** The schema of the reply's data (default: anything). */
  reply?: z.ZodType<T>;
  timeoutMs?: number;
  /** The id to use (default a random UUID). */
  requestId?: string;
  /** Send as is, without the outgoing schema (tests: how a peer answers malformed requests). */
  unchecked?: boolean;
  /** Progress messages for this request (each one renews its timeout). */
  onProgress?: (message: M) => void;
}

interface Pending<M> {
  type: string;
  resolve: (data: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  timeoutMs: number;
  progressed: boolean;
  reply: z.ZodType<unknown> | undefined;
  onProgress: ((message: M) => void) | undefined;
}

const issues = (error: z.ZodError): string => error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; ");
const duration = (ms: number): string => (ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${ms} ms`);
const field = (raw: unknown, key: string): unknown =>
  typeof raw === "object" && raw !== null && key in raw ? (raw as Record<string, unknown>)[key] : undefined;

export class RpcClient<M> {
  private readonly pending = new Map<string, Pending<M>>();
  /** Messages sent before the peer's hello; null once it came (or when the protocol has no handshake). */
  private outbox: unknown[] | null;
  private readonly helloTimer: NodeJS.Timeout | undefined;
  private endInfo: RpcEnd | null = null;

  constructor(private readonly opts: RpcClientOptions<M>) {
    this.outbox = opts.handshake ? [] : null;
    if (opts.handshake) {
      const ms = opts.handshake.timeoutMs;
      this.helloTimer = setTimeout(() => {
        if (this.outbox) this.kill("SIGKILL", `${opts.name} did not start within ${duration(ms)}`);
      }, ms);
      this.helloTimer.unref();
    }
    opts.transport.onMessage((raw) => this.receive(raw));
    opts.transport.onEnd((end) => this.end(end));
  }

  /** How the peer went (null while it is there). */
  get ended(): RpcEnd | null {
    return this.endInfo;
  }

  /** Requests waiting for their reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Whether the handshake is done (true when the protocol has none). */
  get greeted(): boolean {
    return this.outbox === null;
  }

  /** Sends without waiting for anything (queued until the hello); false when the peer is gone. Not schema-checked. */
  send(message: unknown): boolean {
    if (this.endInfo || !this.opts.transport.connected) return false;
    if (this.outbox) {
      this.outbox.push(message);
      return true;
    }
    return this.opts.transport.send(message);
  }

  /** Sends `message` with a requestId and resolves with the reply's data (checked with `reply`). */
  request<T = unknown>(message: Record<string, unknown>, options: RequestOptions<T, M> = {}): Promise<T> {
    const requestId = options.requestId ?? crypto.randomUUID();
    const type = typeof message.type === "string" ? message.type : "request";
    let payload: unknown = { ...message, requestId };
    if (this.opts.outgoing && !options.unchecked) {
      const parsed = this.opts.outgoing.safeParse(payload);
      if (!parsed.success) return Promise.reject(new RpcError("BAD_REQUEST", `bad "${type}" command: ${issues(parsed.error)}`));
      payload = parsed.data;
    }
    if (this.endInfo) return Promise.reject(new RpcError("EXITED", `${this.opts.name} has exited: ${this.endInfo.reason}`));
    const timeoutMs = options.timeoutMs ?? this.opts.timeoutMs ?? 30_000;
    return new Promise<T>((resolve, reject) => {
      const p: Pending<M> = {
        type,
        resolve: resolve as (data: unknown) => void,
        reject,
        timer: undefined as unknown as NodeJS.Timeout,
        timeoutMs,
        progressed: false,
        reply: options.reply,
        onProgress: options.onProgress,
      };
      this.pending.set(requestId, p);
      this.arm(requestId, p);
      if (!this.send(payload)) this.settle(requestId)?.reject(new RpcError("EXITED", `${this.opts.name} is gone`));
    });
  }

  /** Closes the channel (the peer ends on its own). */
  disconnect(): void {
    this.opts.transport.disconnect();
  }

  /** Ends the peer now; `reason` becomes the end's reason. */
  kill(signal?: NodeJS.Signals, reason?: string): void {
    this.opts.transport.kill(signal, reason);
  }

  // ---- internals ------------------------------------------------------------------------------------------

  private arm(requestId: string, p: Pending<M>): void {
    p.timer = setTimeout(() => {
      if (this.pending.get(requestId) !== p) return;
      this.pending.delete(requestId);
      const since = p.progressed ? " of its last progress report" : "";
      p.reject(new RpcError("TIMEOUT", `${this.opts.name} did not answer "${p.type}" within ${duration(p.timeoutMs)}${since}`));
    }, p.timeoutMs);
  }

  /** Takes a request out of the pending ones (null when nobody waits for it any more). */
  private settle(requestId: string): Pending<M> | null {
    const p = this.pending.get(requestId);
    if (!p) return null;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    return p;
  }

  private bad(problem: string): void {
    (this.opts.log ?? console.error)(`[${this.opts.label ?? this.opts.name}] protocol error: ${problem}`);
    try {
      this.opts.onBadMessage?.(problem);
    } catch (e) {
      console.error(`[${this.opts.label ?? this.opts.name}] onBadMessage failed:`, e);
    }
  }

  private receive(raw: unknown): void {
    if (this.endInfo) return;
    const { name, version } = this.opts;
    const v = field(raw, "v");
    if (v !== version) {
      this.kill("SIGKILL", `${name} speaks protocol version ${JSON.stringify(v)}, this server speaks ${version}`);
      return;
    }
    const parsed = this.opts.incoming.safeParse(raw);
    if (!parsed.success) {
      const detail = issues(parsed.error);
      // A malformed reply still settles its request, so the caller is not left waiting for a timeout.
      const id = field(raw, "requestId");
      const p = typeof id === "string" ? this.settle(id) : null;
      p?.reject(new RpcError("BAD_REPLY", `${name} sent a malformed reply to "${p.type}": ${detail}`));
      this.bad(`malformed ${JSON.stringify(field(raw, "type"))} message: ${detail}`);
      return;
    }
    const message = parsed.data;
    const hello = this.opts.handshake;
    if (hello?.isHello(message)) {
      if (this.outbox) this.greet(hello.first);
      return;
    }
    const route = this.opts.route(message);
    if (!route) {
      this.opts.onMessage?.(message);
      return;
    }
    if ("progress" in route) {
      const p = this.pending.get(route.requestId);
      if (!p) return;
      clearTimeout(p.timer);
      p.progressed = true;
      this.arm(route.requestId, p);
      try {
        p.onProgress?.(message);
      } catch (e) {
        console.error(`[${this.opts.label ?? name}] progress listener failed:`, e);
      }
      return;
    }
    const p = this.settle(route.requestId);
    if (!p) return; // answered after its timeout: nobody waits any more
    if (!route.ok) {
      p.reject(this.opts.peerError ? this.opts.peerError(route) : new RpcError(route.code, route.message, route.error));
      return;
    }
    if (!p.reply) {
      p.resolve(route.data);
      return;
    }
    const data = p.reply.safeParse(route.data);
    if (data.success) {
      p.resolve(data.data);
      return;
    }
    const detail = issues(data.error);
    p.reject(new RpcError("BAD_REPLY", `${name} sent a malformed reply to "${p.type}": ${detail}`));
    this.bad(`malformed reply to "${p.type}": ${detail}`);
  }

  private greet(first: unknown): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    const queued = this.outbox ?? [];
    this.outbox = null;
    if (first !== undefined) this.opts.transport.send(first);
    for (const m of queued) this.opts.transport.send(m);
  }

  private end(end: TransportEnd): void {
    if (this.endInfo) return;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    const reason = this.opts.describeEnd ? this.opts.describeEnd(end) : describeEnd(this.opts.name, end);
    const info: RpcEnd = { ...end, reason };
    this.endInfo = info;
    this.outbox = null;
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new RpcError("EXITED", `${this.opts.name} exited before answering: ${reason}`));
    }
    this.opts.onEnd?.(info);
  }
}
