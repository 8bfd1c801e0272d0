/**
 * Starts and watches trainer processes (`server/trainer/child.ts`), one per active run, and talks to them with
 * the typed messages of `lib/protocol/trainer.ts`, through the RPC client of `server/rpc/` (ids, timeouts, schema
 * checks, the hello handshake, exit reasons). It never trains and does no heavy work per message: it hands the
 * trainer's events to its listeners and keeps the run's last status, iteration and checkpoint.
 *
 * A trainer's crash is an `exit` event with a human reason (`expected: false`); it never throws into the server.
 *
 * Lifecycle (see child.ts): hello → start → ready → events… A run whose loop ended (completed, stopped, failed)
 * keeps its process, so `generate` works on the finished weights; the server ends it with `shutdown()`
 * (checkpoint, then exit) when it no longer needs it. If the server goes, its trainers go with it (they exit
 * when their IPC channel closes).
 */
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { ConfigInput } from "../../lib/gan/config";
import { ENDED_STATUSES } from "../../lib/gan/vocabulary";
import {
  GenerateReplySchema,
  TRAINER_PROTOCOL_VERSION,
  TrainerCommandSchema,
  TrainerMessageSchema,
  type GenerateReply,
  type TrainerCommandInput,
  type TrainerEventMessage,
  type TrainerMessage,
} from "../../lib/protocol/trainer";
import { childProcessTransport } from "../rpc/child-process";
import { RpcClient, RpcError, type RpcEnd } from "../rpc/client";
import { describeEnd, type Transport, type TransportEnd, type TransportFactory } from "../rpc/transport";

export type { GenerateReply } from "../../lib/protocol/trainer";

export interface RunProcessOptions {
  runId: string;
  /** The run's Config (a parsed `Config` or its input form; the trainer parses it). Ignored when resuming. */
  config: ConfigInput;
  /** Where checkpoints go (`latest/`, `best/`). */
  outDir: string;
  /** Continue the run saved in this checkpoint folder. */
  resumeFrom?: string;
  /** Backend to force (else the child's GAN_BACKEND, else the fastest that works). */
  backend?: string;
  /** Start paused. */
  paused?: boolean;
}

export type ReadyInfo = Extract<TrainerMessage, { type: "ready" }>;

export interface RunProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the process ended as asked (shutdown, disconnect) or after its run ended; false for crashes and kills. */
  expected: boolean;
  /** For people: "the trainer process was killed by SIGKILL", "the trainer process exited with code 1: …". */
  reason: string;
}

export type RunProcessEvent = { type: "ready"; info: ReadyInfo } | { type: "event"; event: TrainerEventMessage } | { type: "exit"; exit: RunProcessExit };

export type TrainerCommandErrorCode = "BAD_REQUEST" | "NOT_READY" | "INTERNAL" | "EXITED" | "TIMEOUT" | "BAD_REPLY";

/**
 * A trainer request's failure: the RpcError of every child process (server/rpc/client.ts), under the name callers
 * know. Codes: the trainer's own (BAD_REQUEST, NOT_READY, INTERNAL) and the RPC module's (EXITED, TIMEOUT, BAD_REPLY).
 */
export const TrainerCommandError = RpcError;
export type TrainerCommandError = RpcError<TrainerCommandErrorCode>;

export interface CheckpointInfo {
  dir: string;
  bytes: number;
  iteration: number;
}

export type OptimizerChange = Extract<TrainerCommandInput, { type: "setOptimizer" }>["settings"];
export type TrainingNetwork = Extract<TrainerCommandInput, { type: "setOptimizer" }>["network"];
export type TrainerStatus = Extract<TrainerEventMessage, { type: "status" }>["status"];
type TerminalStatus = Extract<TrainerStatus, (typeof ENDED_STATUSES)[number]>;
const isTerminal = (status: TrainerStatus): status is TerminalStatus => (ENDED_STATUSES as readonly string[]).includes(status);

export type OutputListener = (runId: string, stream: "stdout" | "stderr", text: string) => void;

const CheckpointInfoSchema = z.object({ dir: z.string(), bytes: z.number().int(), iteration: z.number().int() });
const ShutdownReplySchema = z.object({ checkpoint: CheckpointInfoSchema.nullable(), note: z.string().optional() });
export type ShutdownReply = z.infer<typeof ShutdownReplySchema>;

/** The child's entry. */
const CHILD_ENTRY = fileURLToPath(new URL("./child.ts", import.meta.url));
const NAME = "the trainer process";
const v = TRAINER_PROTOCOL_VERSION;

export { TSX_LOADER } from "../rpc/child-process";
export { lastErrorLine } from "../rpc/transport";

export class RunProcess {
  readonly runId: string;
  readonly pid: number;
  /** Resolves when the trainer is built; rejects with the fatal message or the exit reason if the process dies first. */
  readonly ready: Promise<ReadyInfo>;
  /** Resolves once, when the process has exited (never rejects). */
  readonly exited: Promise<RunProcessExit>;
  /** Resolves when the training loop ends (completed, stopped, failed), or with null if the process exits first. */
  readonly finished: Promise<{ status: TerminalStatus; iteration: number; reason?: string } | null>;

  private state: { status: TrainerStatus | null; iteration: number; lastCheckpoint: CheckpointInfo | null; exit: RunProcessExit | null } = {
    status: null,
    iteration: 0,
    lastCheckpoint: null,
    exit: null,
  };
  /** The last status the trainer reported (null before its first). */
  get status(): TrainerStatus | null {
    return this.state.status;
  }
  /** Iterations completed, as last reported. */
  get iteration(): number {
    return this.state.iteration;
  }
  /** The last `latest/` checkpoint the trainer reported (the loop's, a requested one, or shutdown's). */
  get lastCheckpoint(): CheckpointInfo | null {
    return this.state.lastCheckpoint;
  }
  /** How the process ended; null while it runs. */
  get exit(): RunProcessExit | null {
    return this.state.exit;
  }

  private readonly transport: Transport;
  private readonly rpc: RpcClient<TrainerMessage>;
  private readonly listeners = new Set<(e: RunProcessEvent) => void>();
  private fatalMessage: string | undefined;
  private requested: "shutdown" | "disconnect" | "kill" | null = null;
  /** The end as worded when the pending requests were rejected (the exit event says the same). */
  private ending: { expected: boolean; reason: string } | null = null;
  private resolveReady!: (info: ReadyInfo) => void;
  private rejectReady!: (e: Error) => void;
  private resolveExited!: (exit: RunProcessExit) => void;
  private resolveFinished!: (v: { status: TerminalStatus; iteration: number; reason?: string } | null) => void;

  /** Use {@link TrainerSupervisor.start}. */
  constructor(
    opts: RunProcessOptions,
    env: NodeJS.ProcessEnv,
    replyTimeoutMs: number,
    startTimeoutMs: number,
    onOutput?: OutputListener,
    transport: TransportFactory = childProcessTransport,
  ) {
    this.runId = opts.runId;
    this.ready = new Promise((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => undefined); // a server that never awaits `ready` must not see an unhandled rejection
    this.exited = new Promise((res) => (this.resolveExited = res));
    this.finished = new Promise((res) => (this.resolveFinished = res));
    // The start command is checked here, so a bad Config throws in the caller instead of a child's fatal.
    const start = TrainerCommandSchema.parse({
      v,
      type: "start",
      runId: opts.runId,
      config: opts.config,
      outDir: opts.outDir,
      ...(opts.resumeFrom ? { resumeFrom: opts.resumeFrom } : {}),
      ...(opts.backend ? { backend: opts.backend } : {}),
      paused: opts.paused ?? false,
    });
    const label = `trainer ${opts.runId}`;
    this.transport = transport({
      entry: CHILD_ENTRY,
      args: [],
      env,
      label,
      ...(onOutput ? { onOutput: (stream: "stdout" | "stderr", text: string) => onOutput(this.runId, stream, text) } : {}),
    });
    this.pid = this.transport.pid;
    // hello → start (then whatever was posted meanwhile); replies by requestId; the rest is ready, event, fatal.
    this.rpc = new RpcClient<TrainerMessage>({
      transport: this.transport,
      name: NAME,
      label,
      version: v,
      incoming: TrainerMessageSchema,
      outgoing: TrainerCommandSchema,
      timeoutMs: replyTimeoutMs,
      handshake: { isHello: (m) => m.type === "hello", timeoutMs: startTimeoutMs, first: start },
      route: (m) => {
        if (m.type !== "reply") return undefined;
        if (m.ok) return { requestId: m.requestId, ok: true, data: m.data };
        return { requestId: m.requestId, ok: false, code: m.error?.code ?? "INTERNAL", message: m.error?.message ?? "the trainer refused the command" };
      },
      onMessage: (m) => this.onMessage(m),
      onBadMessage: (problem) => this.protocolError(problem),
      describeEnd: (end) => {
        this.ending = this.exitReason(end);
        return this.ending.reason;
      },
      onEnd: (end) => this.finish(end),
    });
  }

  /** Subscribes to ready, event and exit; returns the unsubscribe function. */
  on(listener: (e: RunProcessEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get alive(): boolean {
    return this.exit === null;
  }

  pause(): void {
    this.rpc.send({ v, type: "pause" });
  }

  resume(): void {
    this.rpc.send({ v, type: "resume" });
  }

  /** Stops the run (the trainer writes `latest/` and reports `stopped`); the process stays for generate. */
  stop(): void {
    this.rpc.send({ v, type: "stop" });
  }

  /** Resolves once the trainer has queued the change (a `control` event reports when it takes effect). */
  async setLrMultiplier(scope: string, param: string, value: number): Promise<void> {
    await this.rpc.request({ v, type: "setLrMultiplier", scope, param, value });
  }

  async setOptimizer(network: TrainingNetwork, settings: OptimizerChange): Promise<void> {
    await this.rpc.request({ v, type: "setOptimizer", network, settings });
  }

  /** RuntimeGenerator on the live weights; with `seedB`, `count` steps from seed to seedB. */
  generate(req: { label: number; seed: number; count?: number; seedB?: number }): Promise<GenerateReply> {
    return this.rpc.request({ v, type: "generate", ...req }, { reply: GenerateReplySchema });
  }

  /** Writes `latest/` now, between two iterations. */
  checkpoint(): Promise<CheckpointInfo> {
    return this.rpc.request({ v, type: "checkpoint" }, { reply: CheckpointInfoSchema });
  }

  /**
   * Graceful end: the trainer pauses, writes `latest/`, replies and exits. SIGKILL after `timeoutMs`.
   * Resolves with the exit (never rejects).
   */
  async shutdown(timeoutMs = 30_000): Promise<RunProcessExit> {
    if (this.exit) return this.exit;
    this.requested ??= "shutdown";
    this.rpc.request({ v, type: "shutdown" }, { timeoutMs, reply: ShutdownReplySchema }).catch(() => undefined); // the exit is what counts
    const timer = setTimeout(() => this.rpc.kill("SIGKILL", `the trainer did not shut down within ${timeoutMs / 1000} s and was killed by SIGKILL`), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** Kills the process at once (default SIGTERM): nothing is saved, the run resumes from its last checkpoint. */
  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.exit) return;
    this.requested ??= "kill";
    this.rpc.kill(signal);
  }

  /** Closes the IPC channel: the trainer exits at once, as it does when its server dies (nothing saved). */
  disconnect(): void {
    if (this.exit || !this.transport.connected) return;
    this.requested ??= "disconnect";
    this.rpc.disconnect();
  }

  /**
   * Test-only: sends `message` as is, without validation, to see how the trainer answers malformed commands.
   * When it carries a string `requestId`, the promise settles with the reply for it.
   */
  sendRaw(message: Record<string, unknown>): Promise<unknown> {
    const id = message.requestId;
    if (typeof id !== "string") {
      this.rpc.send(message);
      return Promise.resolve(undefined);
    }
    return this.rpc.request(message, { requestId: id, unchecked: true });
  }

  // ---- internals ------------------------------------------------------------------------------------------

  private emit(e: RunProcessEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        console.error(`[trainer ${this.runId}] listener failed:`, err);
      }
    }
  }

  private protocolError(problem: string): void {
    this.emit({ type: "event", event: { type: "error", iteration: this.iteration, message: `trainer protocol error: ${problem}` } });
  }

  private onMessage(msg: TrainerMessage): void {
    switch (msg.type) {
      case "ready":
        this.state.iteration = msg.iteration;
        this.resolveReady(msg);
        this.emit({ type: "ready", info: msg });
        return;
      case "event": {
        const e = msg.event;
        if ("iteration" in e && e.type !== "losses" && e.iteration !== null) this.state.iteration = Math.max(this.iteration, e.iteration);
        if (e.type === "losses") this.state.iteration = Math.max(this.iteration, e.iteration + 1);
        if (e.type === "checkpoint" && e.kind === "latest") this.state.lastCheckpoint = { dir: e.dir, bytes: e.bytes, iteration: e.iteration };
        if (e.type === "status") {
          this.state.status = e.status;
          this.state.iteration = e.iteration;
          if (isTerminal(e.status)) {
            this.resolveFinished({ status: e.status, iteration: e.iteration, ...(e.reason ? { reason: e.reason } : {}) });
          }
        }
        this.emit({ type: "event", event: e });
        return;
      }
      case "fatal":
        this.fatalMessage = msg.message;
        this.rejectReady(new Error(msg.message));
        return;
      default:
        return; // hello and replies are the RPC client's
    }
  }

  private exitReason(end: TransportEnd): { expected: boolean; reason: string } {
    if (end.reason || end.startError !== undefined) return { expected: false, reason: describeEnd(NAME, end) };
    if (end.signal) {
      const asked = this.requested === "kill" ? " (on the server's request)" : "";
      return { expected: false, reason: `${describeEnd(NAME, end)}${asked}` };
    }
    if (end.code !== 0) return { expected: false, reason: describeEnd(NAME, end, this.fatalMessage) };
    const at = `at iteration ${this.iteration}`;
    if (this.requested === "shutdown") {
      if (this.status === "completed") return { expected: true, reason: "the trainer completed its run and shut down" };
      if (this.status === "stopped") return { expected: true, reason: "the trainer stopped" };
      if (this.status === "failed") return { expected: true, reason: "the trainer shut down after its run failed" };
      return { expected: true, reason: `the trainer shut down ${at}` };
    }
    if (this.requested === "disconnect") return { expected: true, reason: `the trainer exited ${at}: the server closed its channel` };
    if (this.status === "completed" || this.status === "stopped") return { expected: true, reason: `the trainer ${this.status}` };
    return { expected: false, reason: `the trainer process exited unexpectedly ${at}` };
  }

  /** The RPC client has rejected every pending request with the reason; now the exit itself. */
  private finish(end: RpcEnd): void {
    if (this.exit) return;
    const { expected } = this.ending ?? this.exitReason(end);
    const exit: RunProcessExit = { code: end.code, signal: end.signal, expected, reason: end.reason };
    this.state.exit = exit;
    this.rejectReady(new Error(this.fatalMessage ?? end.reason));
    this.resolveFinished(null);
    this.resolveExited(exit);
    this.emit({ type: "exit", exit });
    this.listeners.clear();
  }
}

export interface TrainerSupervisorOptions {
  /** The trainers' environment (default: this process's), e.g. with GAN_BACKEND. */
  env?: NodeJS.ProcessEnv;
  /** How long a request waits for its reply (default 30 s). */
  replyTimeoutMs?: number;
  /** How long a new process may take to say hello before it is killed (default 60 s). */
  startTimeoutMs?: number;
  /** What the trainers write to stdout/stderr (e.g. to the server's log); dropped when not given. */
  onOutput?: OutputListener;
  /** How a trainer is reached (default: a child process, server/rpc/child-process.ts). */
  transport?: TransportFactory;
  /** How much lower a trainer process's CPU priority is (GAN_TRAINER_NICENESS; default 0). */
  niceness?: number;
}

export class TrainerSupervisor {
  private readonly env: NodeJS.ProcessEnv;
  private readonly replyTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly onOutput: OutputListener | undefined;
  private readonly transport: TransportFactory | undefined;
  private readonly runs = new Map<string, RunProcess>();

  constructor(opts: TrainerSupervisorOptions = {}) {
    this.env = opts.env ?? process.env;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 30_000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 60_000;
    this.onOutput = opts.onOutput;
    const niceness = opts.niceness ?? 0;
    const base = opts.transport ?? childProcessTransport;
    this.transport = niceness > 0 ? (spec) => base({ ...spec, niceness }) : opts.transport;
  }

  /** Forks a trainer process for the run; throws if that run already has a live one (or the Config is invalid). */
  start(opts: RunProcessOptions): RunProcess {
    const existing = this.runs.get(opts.runId);
    if (existing?.alive) throw new Error(`run ${opts.runId} already has a trainer process (pid ${existing.pid})`);
    const rp = new RunProcess(opts, this.env, this.replyTimeoutMs, this.startTimeoutMs, this.onOutput, this.transport);
    this.runs.set(opts.runId, rp);
    void rp.exited.then(() => {
      if (this.runs.get(opts.runId) === rp) this.runs.delete(opts.runId);
    });
    return rp;
  }

  get(runId: string): RunProcess | undefined {
    const rp = this.runs.get(runId);
    return rp?.alive ? rp : undefined;
  }

  live(): RunProcess[] {
    return [...this.runs.values()].filter((rp) => rp.alive);
  }

  /** Shuts every trainer down gracefully (checkpoint, exit), killing those that take longer than `timeoutMs`. */
  async shutdownAll(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.live().map((rp) => rp.shutdown(timeoutMs)));
  }
}
