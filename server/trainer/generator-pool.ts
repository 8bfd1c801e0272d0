/**
 * RuntimeGenerator processes (server/trainer/generator-child.ts), one per run that is asked for images: started on
 * the first request, let go after a quiet while, started again after a crash. Requests never wait for training.
 *
 * Bounded, so requests cannot fork processes at will:
 * - a process is forked only for a run whose output folder holds weights (the trainer's snapshot `runtime/` or its
 *   `latest/` checkpoint, what the child reads); otherwise NO_WEIGHTS, and nothing is forked;
 * - at most `maxProcesses` are alive at once (let-go ones count until they have exited): a new one first lets the
 *   least recently used idle one go; when every one is busy answering requests, the request is refused with a
 *   QuotaError "generators" (retry after a second) rather than queued, so a burst never piles up behind processes
 *   that are all working;
 * - per run at most `maxPendingPerRun` requests wait (waiting for a process included); more are refused the same way.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  GENERATOR_PROTOCOL_VERSION,
  GeneratorReplySchema,
  latestDir,
  runtimeDir,
  type GeneratorReply,
  type GeneratorRequest,
} from "../../lib/protocol/generator";
import { GenerateReplySchema, type GenerateReply } from "../../lib/protocol/trainer";
import { DEFAULT_LIMITS, QuotaError } from "../limits";
import { childProcessTransport } from "../rpc/child-process";
import { RpcClient, RpcError } from "../rpc/client";
import type { TransportFactory } from "../rpc/transport";

const ENTRY = fileURLToPath(new URL("./generator-child.ts", import.meta.url));

export type GeneratorErrorCode = "BAD_REQUEST" | "NO_WEIGHTS" | "INTERNAL" | "TIMEOUT" | "EXITED" | "BAD_REPLY";

/** A RuntimeGenerator request's failure: the RpcError of every child process (server/rpc/client.ts), under the name callers know. */
export const GeneratorError = RpcError;
export type GeneratorError = RpcError<GeneratorErrorCode>;

interface Worker {
  runId: string;
  rpc: RpcClient<GeneratorReply>;
  idle: NodeJS.Timeout | null;
  lastUsed: number;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export interface GeneratorPoolOptions {
  env?: NodeJS.ProcessEnv;
  /** A process with no request for this long is let go (default 2 min). */
  idleMs?: number;
  /** How long a request waits for its images (default 30 s). */
  timeoutMs?: number;
  /** Processes alive at once (GAN_MAX_GENERATORS). */
  maxProcesses?: number;
  /** Requests waiting per run (GAN_MAX_GENERATOR_QUEUE). */
  maxPendingPerRun?: number;
  /** How a RuntimeGenerator is reached (default: a child process, server/rpc/child-process.ts). */
  transport?: TransportFactory;
}

/** Whether a run's output folder holds weights a RuntimeGenerator can load (as generator-child.ts looks for them). */
export function hasWeights(outDir: string): boolean {
  return [runtimeDir(outDir), latestDir(outDir)].some((dir) => existsSync(path.join(dir, "model.json")));
}

export class GeneratorPool {
  private readonly workers = new Map<string, Worker>();
  /** Let go, not exited yet: they still count against the cap. */
  private readonly dying = new Set<Worker>();
  /** Requests accepted per run and not answered yet (those waiting for a process included). */
  private readonly waiting = new Map<string, number>();
  private readonly maxProcesses: number;
  private readonly maxPendingPerRun: number;
  /** Processes forked since the pool was made (for tests and the health check). */
  forks = 0;

  constructor(private readonly opts: GeneratorPoolOptions = {}) {
    this.maxProcesses = opts.maxProcesses ?? DEFAULT_LIMITS.GAN_MAX_GENERATORS;
    this.maxPendingPerRun = opts.maxPendingPerRun ?? DEFAULT_LIMITS.GAN_MAX_GENERATOR_QUEUE;
  }

  /** RuntimeGenerator processes alive now (let-go ones until they have exited). */
  get alive(): number {
    return this.workers.size + this.dying.size;
  }

  private spawn(runId: string, outDir: string): Worker {
    const label = `generator ${runId}`;
    // One thread: a RuntimeGenerator answers small requests, and must not take cores from the trainers.
    const env = { ...(this.opts.env ?? process.env), GAN_WASM_THREADS: "1" };
    const transport = (this.opts.transport ?? childProcessTransport)({ entry: ENTRY, args: [outDir], env, label });
    this.forks++;
    let markExited!: () => void;
    const exited = new Promise<void>((r) => (markExited = r));
    const rpc = new RpcClient<GeneratorReply>({
      transport,
      name: "the RuntimeGenerator process",
      label,
      version: GENERATOR_PROTOCOL_VERSION,
      incoming: GeneratorReplySchema,
      timeoutMs: this.opts.timeoutMs ?? 30_000,
      route: (m) => {
        if (m.type !== "reply") return undefined; // hello
        if (m.ok) return { requestId: m.requestId, ok: true, data: m.data };
        return { requestId: m.requestId, ok: false, code: m.error?.code ?? "INTERNAL", message: m.error?.message ?? "the RuntimeGenerator failed" };
      },
      // Pending requests have been rejected with EXITED and the reason; the process no longer counts.
      onEnd: () => {
        if (this.workers.get(runId) === worker) this.workers.delete(runId);
        this.dying.delete(worker);
        if (worker.idle) clearTimeout(worker.idle);
        markExited();
      },
    });
    const worker: Worker = { runId, rpc, idle: null, lastUsed: Date.now(), exited };
    this.workers.set(runId, worker);
    return worker;
  }

  /**
   * Draws images for a run from the newest weights in its output folder. Rejects with NO_WEIGHTS (nothing forked)
   * when the folder holds none, and with a QuotaError "generators" past the per-run queue or when every process is busy.
   */
  async generate(runId: string, outDir: string, req: Omit<GeneratorRequest, "v" | "type" | "requestId">): Promise<GenerateReply> {
    const used = this.waiting.get(runId) ?? 0;
    if (used >= this.maxPendingPerRun) {
      throw new QuotaError(`this run's RuntimeGenerator already has ${used} requests waiting, the most it takes: wait for their images, then ask again`, {
        name: "generators",
        limit: this.maxPendingPerRun,
        used,
        retryAfterSeconds: 1,
      });
    }
    this.waiting.set(runId, used + 1);
    try {
      return await this.draw(runId, outDir, req);
    } finally {
      const left = (this.waiting.get(runId) ?? 1) - 1;
      if (left > 0) this.waiting.set(runId, left);
      else this.waiting.delete(runId);
    }
  }

  /** Finds or makes the run's process and sends the request; the check that allows a fork and the fork are one step. */
  private async draw(runId: string, outDir: string, req: Omit<GeneratorRequest, "v" | "type" | "requestId">): Promise<GenerateReply> {
    for (;;) {
      const existing = this.workers.get(runId);
      if (existing) return this.request(existing, req);
      if (!hasWeights(outDir)) throw new GeneratorError("NO_WEIGHTS", "this run has no weights yet");
      if (this.alive < this.maxProcesses) return this.request(this.spawn(runId, outDir), req);
      let victim: Worker | null = null;
      for (const w of this.workers.values()) if (w.rpc.pendingCount === 0 && (!victim || w.lastUsed < victim.lastUsed)) victim = w;
      if (victim) {
        this.release(victim.runId);
        await victim.exited;
        continue;
      }
      if (this.dying.size > 0) {
        await Promise.race([...this.dying].map((w) => w.exited));
        continue;
      }
      throw new QuotaError(`all ${this.maxProcesses} RuntimeGenerator processes are busy drawing for other runs: try again in a second`, {
        name: "generators",
        limit: this.maxProcesses,
        used: this.alive,
        retryAfterSeconds: 1,
      });
    }
  }

  private request(worker: Worker, req: Omit<GeneratorRequest, "v" | "type" | "requestId">): Promise<GenerateReply> {
    worker.lastUsed = Date.now();
    if (worker.idle) clearTimeout(worker.idle);
    worker.idle = setTimeout(() => this.release(worker.runId), this.opts.idleMs ?? 120_000);
    worker.idle.unref();
    return worker.rpc.request({ v: GENERATOR_PROTOCOL_VERSION, type: "generate", ...req }, { reply: GenerateReplySchema });
  }

  /** Lets the run's process go (it counts against the cap until it has exited). */
  release(runId: string): void {
    const w = this.workers.get(runId);
    if (!w) return;
    this.workers.delete(runId);
    if (w.idle) clearTimeout(w.idle);
    this.dying.add(w);
    w.rpc.kill();
  }

  closeAll(): void {
    for (const runId of [...this.workers.keys()]) this.release(runId);
  }
}
