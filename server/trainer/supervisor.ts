/**
 * Starts and watches trainer processes (`server/trainer/child.ts`), one per active run, and talks to them with
 * the typed messages of `lib/protocol/trainer.ts`. It never trains and does no heavy work per message: it
 * validates what the child sends, matches replies to requests and hands events to its listeners.
 *
 * A trainer's crash is an `exit` event with a human reason (`expected: false`); it never throws into the server.
 *
 * Lifecycle (see child.ts): hello → start → ready → events… A run whose loop ended (completed, stopped, failed)
 * keeps its process, so `generate` works on the finished weights; the server ends it with `shutdown()`
 * (checkpoint, then exit) when it no longer needs it. If the server goes, its trainers go with it (they exit
 * when their IPC channel closes).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { z } from "zod";
import type { ConfigInput } from "../../lib/gan/config";
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

export type TrainerCommandErrorCode = "BAD_REQUEST" | "NOT_READY" | "INTERNAL" | "EXITED" | "TIMEOUT";

export class TrainerCommandError extends Error {
  constructor(
    readonly code: TrainerCommandErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "TrainerCommandError";
  }
}

export interface CheckpointInfo {
  dir: string;
  bytes: number;
  iteration: number;
}

export type OptimizerChange = Extract<TrainerCommandInput, { type: "setOptimizer" }>["settings"];
export type TrainingNetwork = Extract<TrainerCommandInput, { type: "setOptimizer" }>["network"];
export type TrainerStatus = Extract<TrainerEventMessage, { type: "status" }>["status"];
type TerminalStatus = Extract<TrainerStatus, "completed" | "stopped" | "failed">;

export type OutputListener = (runId: string, stream: "stdout" | "stderr", text: string) => void;

const CheckpointInfoSchema = z.object({ dir: z.string(), bytes: z.number().int(), iteration: z.number().int() });
const ShutdownReplySchema = z.object({ checkpoint: CheckpointInfoSchema.nullable(), note: z.string().optional() });
export type ShutdownReply = z.infer<typeof ShutdownReplySchema>;

/** The child's entry, and tsx's loader by absolute URL (so the child's cwd can be the server's, wherever that is). */
const CHILD_ENTRY = fileURLToPath(new URL("./child.ts", import.meta.url));
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const STDERR_TAIL = 4096;

/** The line of a stderr tail that says what went wrong: the last error line, else the last meaningful one. */
export function lastErrorLine(text: string): string | undefined {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "" && !/^\s+at\s/.test(l) && !/^Node\.js v\d/.test(l) && !/^\s*\^+\s*$/.test(l));
  for (let i = lines.length - 1; i >= 0; i--) if (/\b\w*(Error|Exception)\b:/.test(lines[i]!)) return lines[i]!.trim();
  return lines.at(-1)?.trim();
}

interface Pending {
  resolve: (data: unknown) => void;
  reject: (e: TrainerCommandError) => void;
  timer: NodeJS.Timeout;
}

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

  private readonly child: ChildProcess;
  private readonly listeners = new Set<(e: RunProcessEvent) => void>();
  private readonly pending = new Map<string, Pending>();
  private stderrTail = "";
  private fatalMessage: string | undefined;
  private helloSeen = false;
  /** Messages posted before the child's hello: sent, after `start`, once it speaks. */
  private outbox: unknown[] | null = [];
  private killReason: string | undefined;
  private requested: "shutdown" | "disconnect" | "kill" | null = null;
  private resolveReady!: (info: ReadyInfo) => void;
  private rejectReady!: (e: Error) => void;
  private resolveExited!: (exit: RunProcessExit) => void;
  private resolveFinished!: (v: { status: TerminalStatus; iteration: number; reason?: string } | null) => void;
  private readonly helloTimer: NodeJS.Timeout;

  /** Use {@link TrainerSupervisor.start}. */
  constructor(
    opts: RunProcessOptions,
    env: NodeJS.ProcessEnv,
    private readonly replyTimeoutMs: number,
    startTimeoutMs: number,
    onOutput?: OutputListener,
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
      v: TRAINER_PROTOCOL_VERSION,
      type: "start",
      runId: opts.runId,
      config: opts.config,
      outDir: opts.outDir,
      ...(opts.resumeFrom ? { resumeFrom: opts.resumeFrom } : {}),
      ...(opts.backend ? { backend: opts.backend } : {}),
      paused: opts.paused ?? false,
    });
    this.child = fork(CHILD_ENTRY, [], {
      execArgv: ["--import", TSX_LOADER],
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env,
    });
    this.pid = this.child.pid ?? -1;
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
      onOutput?.(this.runId, "stderr", chunk);
    });
    // Always read: a full pipe would block the child.
    this.child.stdout?.setEncoding("utf8");
    this.child.stdout?.on("data", (chunk: string) => onOutput?.(this.runId, "stdout", chunk));
    this.helloTimer = setTimeout(() => {
      if (!this.helloSeen) this.terminate(`the trainer process did not start within ${Math.round(startTimeoutMs / 1000)} s`);
    }, startTimeoutMs);
    this.helloTimer.unref();
    this.child.on("message", (raw: unknown) => this.onMessage(raw, start));
    this.child.on("error", (e) => {
      // Spawn failure or a failed send; a spawn failure has no pid and may never emit "close".
      if (this.pid === -1) this.finish(null, null, `the trainer process could not start: ${e.message}`);
    });
    // "close" comes after the exit, the stdio pipes and the IPC channel have all ended, so every message and the
    // last of stderr are in. Node never emits it when this side disconnected the channel first: then the end of
    // stderr is enough (nothing more can come over a channel we closed). The timer covers a pipe held open by a
    // grandchild.
    this.child.on("close", (code, signal) => this.finish(code, signal));
    this.child.on("exit", (code, signal) => {
      const done = () => this.finish(code, signal);
      setTimeout(done, 2000).unref();
      if (this.requested === "disconnect") {
        const stderr = this.child.stderr;
        if (!stderr || stderr.readableEnded || stderr.destroyed) setImmediate(done);
        else stderr.once("close", () => setImmediate(done));
      }
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
    this.post({ v: TRAINER_PROTOCOL_VERSION, type: "pause" });
  }

  resume(): void {
    this.post({ v: TRAINER_PROTOCOL_VERSION, type: "resume" });
  }

  /** Stops the run (the trainer writes `latest/` and reports `stopped`); the process stays for generate. */
  stop(): void {
    this.post({ v: TRAINER_PROTOCOL_VERSION, type: "stop" });
  }

  /** Resolves once the trainer has queued the change (a `control` event reports when it takes effect). */
  async setLrMultiplier(scope: string, param: string, value: number): Promise<void> {
    await this.request({ type: "setLrMultiplier", scope, param, value });
  }

  async setOptimizer(network: TrainingNetwork, settings: OptimizerChange): Promise<void> {
    await this.request({ type: "setOptimizer", network, settings });
  }

  /** RuntimeGenerator on the live weights; with `seedB`, `count` steps from seed to seedB. */
  async generate(req: { label: number; seed: number; count?: number; seedB?: number }): Promise<GenerateReply> {
    const data = await this.request({ type: "generate", ...req });
    return this.parseReply(GenerateReplySchema, data, "generate");
  }

  /** Writes `latest/` now, between two iterations. */
  async checkpoint(): Promise<CheckpointInfo> {
    return this.parseReply(CheckpointInfoSchema, await this.request({ type: "checkpoint" }), "checkpoint");
  }

  /**
   * Graceful end: the trainer pauses, writes `latest/`, replies and exits. SIGKILL after `timeoutMs`.
   * Resolves with the exit (never rejects).
   */
  async shutdown(timeoutMs = 30_000): Promise<RunProcessExit> {
    if (this.exit) return this.exit;
    this.requested ??= "shutdown";
    this.request({ type: "shutdown" }, timeoutMs).catch(() => undefined); // the exit is what counts
    const timer = setTimeout(() => this.terminate(`the trainer did not shut down within ${timeoutMs / 1000} s and was killed by SIGKILL`), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** Kills the process at once (default SIGTERM): nothing is saved, the run resumes from its last checkpoint. */
  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.exit) return;
    this.requested ??= "kill";
    this.child.kill(signal);
  }

  /** Closes the IPC channel: the trainer exits at once, as it does when its server dies (nothing saved). */
  disconnect(): void {
    if (this.exit || !this.child.connected) return;
    this.requested ??= "disconnect";
    this.child.disconnect();
  }

  /**
   * Test-only: sends `message` as is, without validation, to see how the trainer answers malformed commands.
   * When it carries a string `requestId`, the promise settles with the reply for it.
   */
  sendRaw(message: Record<string, unknown>): Promise<unknown> {
    const id = message.requestId;
    if (typeof id !== "string") {
      this.post(message);
      return Promise.resolve(undefined);
    }
    return this.await(id, this.replyTimeoutMs, () => this.post(message));
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

  /** Sends without waiting for anything (queued until the child's hello); a message to a gone process is dropped. */
  private post(message: unknown): boolean {
    if (this.exit || !this.child.connected) return false;
    if (this.outbox) {
      this.outbox.push(message);
      return true;
    }
    try {
      this.child.send(message as object, (e) => {
        if (e) console.error(`[trainer ${this.runId}] send failed: ${e.message}`);
      });
      return true;
    } catch {
      return false;
    }
  }

  private request(body: Record<string, unknown> & { type: string }, timeoutMs = this.replyTimeoutMs): Promise<unknown> {
    const requestId = randomUUID();
    const parsed = TrainerCommandSchema.safeParse({ v: TRAINER_PROTOCOL_VERSION, ...body, requestId });
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; ");
      return Promise.reject(new TrainerCommandError("BAD_REQUEST", `bad "${body.type}" command: ${issues}`));
    }
    return this.await(requestId, timeoutMs, () => this.post(parsed.data));
  }

  private await(requestId: string, timeoutMs: number, send: () => boolean): Promise<unknown> {
    if (this.exit) return Promise.reject(new TrainerCommandError("EXITED", `the trainer process has exited: ${this.exit.reason}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new TrainerCommandError("TIMEOUT", `the trainer did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
      if (!send()) {
        clearTimeout(timer);
        this.pending.delete(requestId);
        reject(new TrainerCommandError("EXITED", "the trainer process is gone"));
      }
    });
  }

  private parseReply<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
    const parsed = schema.safeParse(data);
    if (!parsed.success) throw new TrainerCommandError("INTERNAL", `the trainer's ${what} reply is malformed: ${parsed.error.issues[0]?.message ?? "?"}`);
    return parsed.data;
  }

  private protocolError(message: string): void {
    this.emit({ type: "event", event: { type: "error", iteration: this.iteration, message: `trainer protocol error: ${message}` } });
  }

  /** Kills the child with a reason that the exit will carry. */
  private terminate(reason: string): void {
    if (this.exit) return;
    this.killReason ??= reason;
    this.child.kill("SIGKILL");
  }

  private onMessage(raw: unknown, start: unknown): void {
    const version = typeof raw === "object" && raw !== null && "v" in raw ? (raw as { v: unknown }).v : undefined;
    if (version !== TRAINER_PROTOCOL_VERSION) {
      this.terminate(`the trainer process speaks protocol version ${JSON.stringify(version)}, this server speaks ${TRAINER_PROTOCOL_VERSION}`);
      return;
    }
    const parsed = TrainerMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const type = (raw as { type?: unknown }).type;
      const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; ");
      // A malformed reply still settles its request, so the caller is not left waiting for a timeout.
      const id = (raw as { requestId?: unknown }).requestId;
      const p = typeof id === "string" ? this.pending.get(id) : undefined;
      if (p && typeof id === "string") {
        this.pending.delete(id);
        clearTimeout(p.timer);
        p.reject(new TrainerCommandError("INTERNAL", `malformed reply from the trainer: ${detail}`));
      }
      this.protocolError(`malformed ${JSON.stringify(type)} message: ${detail}`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case "hello":
        if (this.helloSeen) return;
        this.helloSeen = true;
        clearTimeout(this.helloTimer);
        {
          const queued = this.outbox ?? [];
          this.outbox = null;
          this.post(start);
          for (const m of queued) this.post(m);
        }
        return;
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
          if (e.status === "completed" || e.status === "stopped" || e.status === "failed") {
            this.resolveFinished({ status: e.status, iteration: e.iteration, ...(e.reason ? { reason: e.reason } : {}) });
          }
        }
        this.emit({ type: "event", event: e });
        return;
      }
      case "reply": {
        const p = this.pending.get(msg.requestId);
        if (!p) return; // answered after its timeout: nobody waits any more
        this.pending.delete(msg.requestId);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.data);
        else p.reject(new TrainerCommandError(msg.error?.code ?? "INTERNAL", msg.error?.message ?? "the trainer refused the command"));
        return;
      }
      case "fatal":
        this.fatalMessage = msg.message;
        this.rejectReady(new Error(msg.message));
        return;
    }
  }

  private exitReason(code: number | null, signal: NodeJS.Signals | null): { expected: boolean; reason: string } {
    if (this.killReason) return { expected: false, reason: this.killReason };
    if (signal) {
      const asked = this.requested === "kill" ? " (on the server's request)" : "";
      return { expected: false, reason: `the trainer process was killed by ${signal}${asked}` };
    }
    if (code !== 0) {
      const why = this.fatalMessage ?? lastErrorLine(this.stderrTail) ?? "no message";
      return { expected: false, reason: `the trainer process exited with code ${code}: ${why}` };
    }
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

  private finish(code: number | null, signal: NodeJS.Signals | null, override?: string): void {
    if (this.exit) return;
    clearTimeout(this.helloTimer);
    const { expected, reason } = override ? { expected: false, reason: override } : this.exitReason(code, signal);
    const exit: RunProcessExit = { code, signal, expected, reason };
    this.state.exit = exit;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new TrainerCommandError("EXITED", `the trainer process exited before answering: ${reason}`));
    }
    this.pending.clear();
    this.rejectReady(new Error(this.fatalMessage ?? reason));
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
}

export class TrainerSupervisor {
  private readonly env: NodeJS.ProcessEnv;
  private readonly replyTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly onOutput: OutputListener | undefined;
  private readonly runs = new Map<string, RunProcess>();

  constructor(opts: TrainerSupervisorOptions = {}) {
    this.env = opts.env ?? process.env;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 30_000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 60_000;
    this.onOutput = opts.onOutput;
  }

  /** Forks a trainer process for the run; throws if that run already has a live one (or the Config is invalid). */
  start(opts: RunProcessOptions): RunProcess {
    const existing = this.runs.get(opts.runId);
    if (existing?.alive) throw new Error(`run ${opts.runId} already has a trainer process (pid ${existing.pid})`);
    const rp = new RunProcess(opts, this.env, this.replyTimeoutMs, this.startTimeoutMs, this.onOutput);
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
