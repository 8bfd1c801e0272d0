/**
 * Imports run in a separate process (server/datasets/import-child.ts) that owns the decoding: the server's event
 * loop keeps serving live sessions while 60,000 images decode, and an import that takes the process down (memory)
 * fails alone. The process starts on the first import, stays for a quiet while, and starts again after a crash.
 * Same contract as DatasetStore.importFiles, for files on disk: DatasetErrors come back as DatasetErrors, with
 * their file and row.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { datasetErrorFrom } from "../../lib/gan/data/dataset";
import type { ImportOptions, ImportResult, StoredDatasetMeta } from "../../lib/gan/data/store";
import { IMPORTER_PROTOCOL_VERSION, ImportReplySchema } from "../../lib/protocol/importer";
import { TSX_LOADER } from "../trainer/supervisor";

const ENTRY = fileURLToPath(new URL("./import-child.ts", import.meta.url));

interface Pending {
  resolve: (r: ImportResult) => void;
  reject: (e: Error) => void;
  onProgress: ImportOptions["onProgress"];
}

export class ImportProcess {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<string, Pending>();
  private idle: NodeJS.Timeout | null = null;
  private stderr = "";

  constructor(
    private readonly storeDir: string,
    private readonly opts: { env?: NodeJS.ProcessEnv; idleMs?: number } = {},
  ) {}

  private spawn(): ChildProcess {
    const child = fork(ENTRY, [this.storeDir], {
      execArgv: ["--import", TSX_LOADER],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      env: this.opts.env ?? process.env,
    });
    this.stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => (this.stderr = (this.stderr + d).slice(-2000)));
    child.on("message", (raw: unknown) => {
      const parsed = ImportReplySchema.safeParse(raw);
      if (!parsed.success) return;
      const m = parsed.data;
      const p = this.pending.get(m.requestId);
      if (!p) return;
      if (m.type === "progress") {
        p.onProgress?.({ phase: m.phase, done: m.done, total: m.total });
        return;
      }
      this.pending.delete(m.requestId);
      this.armIdle();
      if (m.ok) p.resolve({ dataset: m.dataset as unknown as StoredDatasetMeta, reused: m.reused });
      else p.reject(m.error.dataset ? datasetErrorFrom(m.error) : new Error(m.error.message));
    });
    child.on("exit", (code, signal) => {
      if (this.child === child) this.child = null;
      const last = this.stderr.trim().split("\n").at(-1);
      const why = `the import process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${last ? `: ${last}` : ""}`;
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
    });
    return child;
  }

  private armIdle(): void {
    if (this.idle) clearTimeout(this.idle);
    if (this.pending.size > 0) return;
    this.idle = setTimeout(() => this.close(), this.opts.idleMs ?? 60_000);
    this.idle.unref();
  }

  /** Imports files on disk; `name` is each file's name as uploaded (it tells the format). */
  importFiles(files: { name: string; path: string }[], options: ImportOptions = {}): Promise<ImportResult> {
    if (this.idle) clearTimeout(this.idle);
    this.child ??= this.spawn();
    const requestId = crypto.randomUUID();
    const { onProgress, signal: _signal, limits: _limits, ...rest } = options;
    return new Promise<ImportResult>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, onProgress });
      this.child!.send({ v: IMPORTER_PROTOCOL_VERSION, type: "import", requestId, files, options: rest });
    });
  }

  /** Ends the process (imports under way fail with a message saying so). */
  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.child?.kill();
    this.child = null;
  }
}
