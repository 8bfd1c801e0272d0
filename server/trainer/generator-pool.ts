/**
 * One RuntimeGenerator process per run that is asked for images (server/trainer/generator-child.ts), started on
 * the first request, let go after a quiet while, started again after a crash. Requests never wait for training.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { GENERATOR_PROTOCOL_VERSION, GeneratorReplySchema, type GeneratorRequest } from "../../lib/protocol/generator.js";
import type { GenerateReply } from "../../lib/protocol/trainer.js";
import { TSX_LOADER } from "./supervisor.js";

const ENTRY = fileURLToPath(new URL("./generator-child.ts", import.meta.url));

export class GeneratorError extends Error {
  constructor(
    readonly code: "BAD_REQUEST" | "NO_WEIGHTS" | "INTERNAL" | "TIMEOUT" | "EXITED",
    message: string,
  ) {
    super(message);
    this.name = "GeneratorError";
  }
}

interface Worker {
  child: ChildProcess;
  pending: Map<string, { resolve: (r: GenerateReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>;
  idle: NodeJS.Timeout | null;
}

export class GeneratorPool {
  private readonly workers = new Map<string, Worker>();

  constructor(private readonly opts: { env?: NodeJS.ProcessEnv; idleMs?: number; timeoutMs?: number } = {}) {}

  private spawn(runId: string, outDir: string): Worker {
    const child = fork(ENTRY, [outDir], { execArgv: ["--import", TSX_LOADER], serialization: "advanced", stdio: ["ignore", "ignore", "pipe", "ipc"], env: this.opts.env ?? process.env });
    let stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => (stderr = (stderr + d).slice(-2000)));
    const worker: Worker = { child, pending: new Map(), idle: null };
    child.on("message", (raw: unknown) => {
      const parsed = GeneratorReplySchema.safeParse(raw);
      if (!parsed.success || parsed.data.type !== "reply") return;
      const m = parsed.data;
      const p = worker.pending.get(m.requestId);
      if (!p) return;
      worker.pending.delete(m.requestId);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.data as GenerateReply);
      else p.reject(new GeneratorError(m.error?.code ?? "INTERNAL", m.error?.message ?? "the RuntimeGenerator failed"));
    });
    child.on("exit", (code, signal) => {
      if (this.workers.get(runId) === worker) this.workers.delete(runId);
      if (worker.idle) clearTimeout(worker.idle);
      const why = `the RuntimeGenerator process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${stderr.trim() ? `: ${stderr.trim().split("\n").at(-1)}` : ""}`;
      for (const p of worker.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new GeneratorError("EXITED", why));
      }
      worker.pending.clear();
    });
    this.workers.set(runId, worker);
    return worker;
  }

  /** Draws images for a run from the newest weights in its output folder. */
  generate(runId: string, outDir: string, req: Omit<GeneratorRequest, "v" | "type" | "requestId">): Promise<GenerateReply> {
    const worker = this.workers.get(runId) ?? this.spawn(runId, outDir);
    if (worker.idle) clearTimeout(worker.idle);
    worker.idle = setTimeout(() => this.release(runId), this.opts.idleMs ?? 120_000);
    worker.idle.unref();
    const requestId = crypto.randomUUID();
    return new Promise<GenerateReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.pending.delete(requestId);
        reject(new GeneratorError("TIMEOUT", "the RuntimeGenerator did not answer in time"));
      }, this.opts.timeoutMs ?? 30_000);
      worker.pending.set(requestId, { resolve, reject, timer });
      worker.child.send({ v: GENERATOR_PROTOCOL_VERSION, type: "generate", requestId, ...req });
    });
  }

  release(runId: string): void {
    const w = this.workers.get(runId);
    if (!w) return;
    this.workers.delete(runId);
    w.child.kill();
  }

  closeAll(): void {
    for (const runId of [...this.workers.keys()]) this.release(runId);
  }
}
