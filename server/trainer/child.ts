/**
 * The trainer process (the "GPU server process"): one per active run, forked by {@link TrainerSupervisor}
 * (`server/trainer/supervisor.ts`) with `serialization: "advanced"`. It owns one engine `Trainer` and talks to
 * the server only through the messages of `lib/protocol/trainer.ts`.
 *
 * Lifecycle
 * - At start it sends `hello` (pid, protocol version) and waits for `start`; commands before `start` are answered
 *   NOT_READY (those without a requestId with an `error` event). While the trainer is being built, pause, resume
 *   and stop are remembered and applied as soon as it exists; requests are answered NOT_READY.
 * - `start` builds the Trainer (fresh or from `resumeFrom`); if that fails (data set, backend, checkpoint) it sends
 *   `fatal` with the message and exits with code 1. Otherwise it sends `ready`, forwards every Trainer event and
 *   trains.
 * - When the loop ends (completed, stopped or failed) the process stays alive: `generate` still works on the
 *   finished weights and `checkpoint` still answers. It exits only when told (`shutdown`, exit code 0) or when
 *   its server goes (the IPC channel closes, exit code 0 at once, no checkpoint: the last epoch's or the last
 *   requested checkpoint is the resume point). A trainer never outlives its server.
 * - `shutdown`: pause, wait until the loop is parked (paused, or ended), write `latest/`, reply, exit 0. A run that
 *   failed is not written over its last good checkpoint (its weights may be NaN); a run that ended with its
 *   checkpoint already at the current iteration is not written twice. The reply's `checkpoint` says which.
 * - SIGINT is ignored: a Ctrl-C in the server's terminal reaches the whole process group, and the server's own
 *   handler is the one that shuts trainers down gracefully (or, if it dies, the closed channel ends them).
 *
 * Consistency: checkpoints (`checkpoint`, `shutdown`) read every parameter asynchronously; on GPU backends those
 * reads really wait, and the loop could train a step in between. So they run in an exclusive section: the next
 * training step waits (the model's `trainStep` is wrapped here, the engine is unchanged) until the checkpoint
 * is written. `generate` needs no such section: it dispatches its ops synchronously, after a step's updates or
 * before the next, and reads only its own output.
 */
import path from "node:path";
import type { z } from "zod";
import type { GenerateReply, TrainerCommand, TrainerEventMessage, TrainerMessage } from "../../lib/protocol/trainer";
import { TRAINER_PROTOCOL_VERSION, TrainerCommandSchema } from "../../lib/protocol/trainer";
import type { Trainer, TrainerEvent } from "../../lib/gan/trainer";
import type { GanModel } from "../../lib/gan/model";
import { ENDED_STATUSES } from "../../lib/gan/vocabulary";
import { runtimeDir } from "../../lib/protocol/generator";

const v = TRAINER_PROTOCOL_VERSION;
type ErrorCode = "BAD_REQUEST" | "NOT_READY" | "INTERNAL";
type StartCommand = Extract<TrainerCommand, { type: "start" }>;
type Request = Extract<TrainerCommand, { requestId: string }>;

export interface CheckpointReply {
  dir: string;
  bytes: number;
  iteration: number;
}
/** `shutdown`'s reply: the checkpoint written (or the existing one kept), or null when none was written. */
export interface ShutdownReply {
  checkpoint: CheckpointReply | null;
  /** Why no checkpoint was written, when none was. */
  note?: string;
}

// ---- the channel ------------------------------------------------------------------------------------------

if (!process.send) {
  console.error("server/trainer/child.ts runs only as a child process forked by the TrainerSupervisor (it needs an IPC channel)");
  process.exit(2);
}

/** Sends a message; resolves when it is handed to the channel (or at once if the channel is gone). */
function send(message: TrainerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    try {
      process.send(message, undefined, {}, () => resolve());
    } catch {
      resolve(); // the channel closed under us: the disconnect handler ends the process
    }
  });
}

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function reply(requestId: string, data: unknown): Promise<void> {
  return send({ v, type: "reply", requestId, ok: true, data });
}

function replyError(requestId: string, code: ErrorCode, message: string): Promise<void> {
  return send({ v, type: "reply", requestId, ok: false, error: { code, message } });
}

function errorEvent(message: string): Promise<void> {
  return send({ v, type: "event", event: { type: "error", iteration: trainer?.iteration ?? 0, message } });
}

async function fatal(message: string): Promise<never> {
  await send({ v, type: "fatal", message });
  process.exit(1);
}

// ---- state ------------------------------------------------------------------------------------------------

type Phase = "new" | "creating" | "ready";
let phase: Phase = "new";
let trainer: Trainer | null = null;
let outDir = "";
/** pause/resume/stop received while the trainer was being built. */
const intent = { paused: false, stop: false };
let stopping = false;
let shuttingDown = false;
let loopDone = false;
/** The last `latest/` checkpoint (the loop's or a requested one). */
let lastCheckpoint: CheckpointReply | null = null;

/**
 * Lets a section run while no training step does: the wrapped `trainStep` waits while a section holds the gate,
 * and a section starts only once the loop is parked (waiting at the gate, paused, or ended).
 */
class StepGate {
  private hold: Promise<void> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private waiters: (() => void)[] = [];
  private atGate = false;

  constructor(private readonly parked: () => boolean) {}

  install(model: GanModel): void {
    const step = model.trainStep.bind(model);
    model.trainStep = async (batch, iteration) => {
      if (this.hold) {
        this.atGate = true;
        this.notify();
        while (this.hold) await this.hold;
        this.atGate = false;
      }
      return step(batch, iteration);
    };
  }

  /** Re-checks waiting sections (on status changes and the loop's end). */
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      let release!: () => void;
      this.hold = new Promise<void>((r) => (release = r));
      try {
        while (!(this.atGate || this.parked())) await new Promise<void>((r) => this.waiters.push(r));
        return await fn();
      } finally {
        this.hold = null;
        release();
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

const gate = new StepGate(() => loopDone || (trainer !== null && trainer.status === "paused" && !stopping));

// ---- commands ---------------------------------------------------------------------------------------------

const COMMAND_TYPES = TrainerCommandSchema.options.map((o) => o.shape.type.value);

function describeBadCommand(raw: unknown, error: z.ZodError): string {
  const type = typeof raw === "object" && raw !== null && "type" in raw ? (raw as { type: unknown }).type : undefined;
  if (typeof type !== "string" || !(COMMAND_TYPES as string[]).includes(type)) {
    return `unknown command type ${JSON.stringify(type) ?? "undefined"}: expected one of ${COMMAND_TYPES.join(", ")}`;
  }
  const issues = error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(message)"}: ${i.message}`).join("; ");
  return `bad "${type}" command: ${issues}`;
}

function requestIdOf(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null || !("requestId" in raw)) return undefined;
  const id = (raw as { requestId: unknown }).requestId;
  return typeof id === "string" && id.length >= 1 && id.length <= 64 ? id : undefined;
}

function onMessage(raw: unknown): void {
  const parsed = TrainerCommandSchema.safeParse(raw);
  if (!parsed.success) {
    const message = describeBadCommand(raw, parsed.error);
    const id = requestIdOf(raw);
    void (id ? replyError(id, "BAD_REQUEST", message) : errorEvent(message));
    return;
  }
  const cmd = parsed.data;
  try {
    handle(cmd);
  } catch (e) {
    // Never crash on a command: answer it.
    if ("requestId" in cmd) void replyError(cmd.requestId, "INTERNAL", errorMessage(e));
    else void errorEvent(`${cmd.type} failed: ${errorMessage(e)}`);
  }
}

function handle(cmd: TrainerCommand): void {
  if (cmd.type === "start") {
    if (phase !== "new") return void errorEvent("this trainer process already has a run: it takes one start only");
    void start(cmd);
    return;
  }
  if (cmd.type === "pause" || cmd.type === "resume" || cmd.type === "stop") {
    if (phase === "new") return void errorEvent(`cannot ${cmd.type}: no run has been started in this trainer process`);
    if (!trainer) {
      if (cmd.type === "stop") intent.stop = true;
      else intent.paused = cmd.type === "pause";
      return;
    }
    if (cmd.type === "pause") trainer.pause();
    else if (cmd.type === "resume") {
      if (!shuttingDown) trainer.resume();
    } else {
      stopping = true;
      trainer.stop();
      gate.notify();
    }
    return;
  }
  // Requests (with a requestId)
  if (cmd.type === "shutdown" && !trainer) {
    // Nothing to save yet (not started, or still being built): just go.
    shuttingDown = true;
    void reply(cmd.requestId, { checkpoint: null, note: "no run was ready, nothing to save" } satisfies ShutdownReply).then(() => process.exit(0));
    return;
  }
  if (!trainer) {
    void replyError(
      cmd.requestId,
      "NOT_READY",
      phase === "new" ? "the trainer process has not been given its run yet" : "the trainer is still being built (not ready yet)",
    );
    return;
  }
  void request(trainer, cmd).catch((e: unknown) => replyError(cmd.requestId, "INTERNAL", errorMessage(e)));
}

const ended = (t: Trainer) => (ENDED_STATUSES as readonly string[]).includes(t.status);

async function request(t: Trainer, cmd: Request): Promise<void> {
  switch (cmd.type) {
    case "setLrMultiplier":
    case "setOptimizer": {
      if (ended(t) || stopping)
        return replyError(cmd.requestId, "BAD_REQUEST", `the run has ${stopping && !ended(t) ? "been stopped" : t.status}: changes no longer take effect`);
      try {
        if (cmd.type === "setLrMultiplier") t.setLrMultiplier(cmd.scope, cmd.param, cmd.value);
        else t.setOptimizer(cmd.network, cmd.settings);
      } catch (e) {
        // The engine checks at once and changes nothing when it throws: the user's input was wrong.
        return replyError(cmd.requestId, "BAD_REQUEST", errorMessage(e));
      }
      return reply(cmd.requestId, null);
    }
    case "generate": {
      const { RuntimeGenerator, GenerateError } = await import("../../lib/gan/generator");
      const gen = RuntimeGenerator.live(t.model);
      let out: Awaited<ReturnType<typeof gen.generate>>;
      try {
        out =
          cmd.seedB === undefined
            ? await gen.generate({ label: cmd.label, seed: cmd.seed, count: cmd.count })
            : await gen.interpolate({ label: cmd.label, seedA: cmd.seed, seedB: cmd.seedB, steps: cmd.count });
      } catch (e) {
        if (e instanceof GenerateError) return replyError(cmd.requestId, "BAD_REQUEST", e.message);
        throw e;
      }
      // The engine types its PNGs Uint8Array<ArrayBufferLike>, the protocol's zod schema Uint8Array<ArrayBuffer>;
      // they are plain (never shared) buffers, so the cast only bridges the two declarations.
      const data = { count: out.count, width: out.width, height: out.height, labels: out.labels, png: out.png, stripPng: out.stripPng } as GenerateReply;
      return reply(cmd.requestId, data);
    }
    case "checkpoint": {
      if (t.status === "failed") {
        return replyError(
          cmd.requestId,
          "BAD_REQUEST",
          `the run failed (${failReason ?? "see its error event"}): its weights are not written over the last checkpoint`,
        );
      }
      const ckpt = await gate.exclusive(() => writeLatest(t));
      return reply(cmd.requestId, ckpt);
    }
    case "shutdown": {
      shuttingDown = true;
      t.pause();
      const result = await gate.exclusive(async (): Promise<ShutdownReply> => {
        if (t.status === "failed")
          return { checkpoint: null, note: `the run failed (${failReason ?? "see its error event"}): its last good checkpoint is kept` };
        if (ended(t) && lastCheckpoint && lastCheckpoint.iteration === t.iteration) return { checkpoint: lastCheckpoint };
        return { checkpoint: await writeLatest(t) };
      });
      await reply(cmd.requestId, result);
      process.exit(0);
    }
  }
}

/** Writes `latest/` now (inside the gate) and reports it as a checkpoint event too, like the loop's own. */
async function writeLatest(t: Trainer): Promise<CheckpointReply> {
  const dir = path.join(outDir, "latest");
  const iteration = t.iteration;
  const bytes = await t.checkpoint(dir);
  lastCheckpoint = { dir, bytes, iteration };
  await send({ v, type: "event", event: { type: "checkpoint", epoch: iteration / t.iterationsPerEpoch, iteration, dir, kind: "latest", bytes } });
  return lastCheckpoint;
}

let failReason: string | undefined;

/**
 * Every SNAPSHOT_MS of training, the weights alone go to `outDir/runtime/` between two steps, for the run's
 * RuntimeGenerator process (server/trainer/generator-child.ts): its requests never wait for a training step.
 */
const SNAPSHOT_MS = Number(process.env.GAN_SNAPSHOT_MS ?? 2000);
let lastSnapshot = 0;
let snapshotting = false;
function maybeSnapshot(t: Trainer): void {
  if (snapshotting || Date.now() - lastSnapshot < SNAPSHOT_MS) return;
  snapshotting = true;
  gate
    .exclusive(() => t.snapshot(runtimeDir(outDir)))
    .catch((e: unknown) => errorEvent(`could not write the RuntimeGenerator snapshot: ${errorMessage(e)}`))
    .finally(() => {
      lastSnapshot = Date.now();
      snapshotting = false;
    });
}

async function start(cmd: StartCommand): Promise<void> {
  phase = "creating";
  outDir = cmd.outDir;
  intent.paused = cmd.paused;
  let t: Trainer;
  try {
    const { Trainer } = await import("../../lib/gan/trainer");
    t = await Trainer.create({
      config: cmd.config,
      outDir: cmd.outDir,
      ...(cmd.resumeFrom ? { resumeFrom: cmd.resumeFrom } : {}),
      ...((cmd.backend ?? process.env.GAN_BACKEND) ? { backend: cmd.backend ?? process.env.GAN_BACKEND } : {}),
    });
  } catch (e) {
    return fatal(errorMessage(e));
  }
  gate.install(t.model);
  const lrMultipliers: Record<string, Record<string, number>> = {};
  for (const [scope, params] of Object.entries(t.model.store.lrMultipliers())) {
    const clean: Record<string, number> = {};
    for (const [name, value] of Object.entries(params)) if (value !== undefined) clean[name] = value;
    lrMultipliers[scope] = clean;
  }
  await send({
    v,
    type: "ready",
    runId: cmd.runId,
    backend: { name: t.backend.name, detail: t.backend.detail },
    iteration: t.iteration,
    iterationsPerEpoch: t.iterationsPerEpoch,
    totalIterations: t.totalIterations,
    scopes: t.model.resolved.scopes.map((s) => ({ scope: s.scope, part: s.part, layerType: s.layerType })),
    lrMultipliers,
    optimizers: t.model.optimizerSettings(),
  });
  t.on((event: TrainerEvent) => {
    if (event.type === "losses") maybeSnapshot(t);
    if (event.type === "checkpoint" && event.kind === "latest") lastCheckpoint = { dir: event.dir, bytes: event.bytes, iteration: event.iteration };
    if (event.type === "status" && event.status === "failed") failReason = event.reason;
    void send({ v, type: "event", event: event satisfies TrainerEventMessage });
    if (event.type === "status") gate.notify();
  });
  trainer = t;
  phase = "ready";
  if (intent.paused) t.pause();
  if (intent.stop) {
    stopping = true;
    t.stop();
  }
  void t.start().finally(() => {
    loopDone = true;
    gate.notify();
  });
}

// ---- process ----------------------------------------------------------------------------------------------

process.on("message", onMessage);
// A trainer never outlives its server: the channel closes when the server exits, crashes or disconnects.
process.on("disconnect", () => process.exit(0));
process.on("SIGINT", () => {
  /* see the header: the server decides */
});
process.on("uncaughtException", (e) => void fatal(`uncaught: ${errorMessage(e)}`));
process.on("unhandledRejection", (e) => void fatal(`unhandled rejection: ${errorMessage(e)}`));

void send({ v, type: "hello", pid: process.pid });
