/**
 * Imports run in a separate process (server/datasets/import-child.ts) that owns the decoding: the server's event
 * loop keeps serving live sessions while 60,000 images decode, and an import that takes the process down (memory)
 * fails alone. The process starts on the first import, stays for a quiet while, and starts again after a crash.
 * Same contract as DatasetStore.importFiles, for files on disk: DatasetErrors come back as DatasetErrors, with
 * their file and row. Requests go through the RPC client of server/rpc/ (ids, a timeout renewed by every progress
 * report, replies checked, exit reasons).
 */
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { datasetErrorFrom } from "../../lib/gan/data/dataset";
import type { ImportOptions, ImportResult, StoredDatasetMeta } from "../../lib/gan/data/store";
import { IMPORTER_PROTOCOL_VERSION, ImportReplySchema, type ImportReply } from "../../lib/protocol/importer";
import { childProcessTransport } from "../rpc/child-process";
import { RpcClient, RpcError } from "../rpc/client";
import type { TransportFactory } from "../rpc/transport";

const ENTRY = fileURLToPath(new URL("./import-child.ts", import.meta.url));

/** What the server reads of an imported data set's meta (the rest passes through). */
const ImportResultSchema = z.object({
  dataset: z.looseObject({
    id: z.string().min(1),
    name: z.string(),
    count: z.number().int(),
    numLabels: z.number().int(),
    perLabel: z.array(z.number().int()),
    imageShape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
  }),
  reused: z.boolean(),
});

export interface ImportProcessOptions {
  env?: NodeJS.ProcessEnv;
  /** The process goes after this long without an import (default 1 min). */
  idleMs?: number;
  /** An import fails with TIMEOUT when the process reports nothing about it for this long (default 10 min). */
  timeoutMs?: number;
  /** How the import process is reached (default: a child process, server/rpc/child-process.ts). */
  transport?: TransportFactory;
}

export class ImportProcess {
  private peer: RpcClient<ImportReply> | null = null;
  private idle: NodeJS.Timeout | null = null;

  constructor(
    private readonly storeDir: string,
    private readonly opts: ImportProcessOptions = {},
  ) {}

  private spawn(): RpcClient<ImportReply> {
    const transport = (this.opts.transport ?? childProcessTransport)({
      entry: ENTRY,
      args: [this.storeDir],
      // One thread: an import must not take cores from the trainers.
      env: { ...(this.opts.env ?? process.env), GAN_WASM_THREADS: "1" },
      label: "importer",
    });
    const rpc: RpcClient<ImportReply> = new RpcClient<ImportReply>({
      transport,
      name: "the import process",
      label: "importer",
      version: IMPORTER_PROTOCOL_VERSION,
      incoming: ImportReplySchema,
      timeoutMs: this.opts.timeoutMs ?? 10 * 60_000,
      route: (m) => {
        if (m.type === "progress") return { requestId: m.requestId, progress: true };
        if (m.ok) return { requestId: m.requestId, ok: true, data: { dataset: m.dataset, reused: m.reused } };
        return { requestId: m.requestId, ok: false, code: m.error.code, message: m.error.message, error: m.error };
      },
      peerError: (f) => {
        const error = f.error as Extract<ImportReply, { ok: false }>["error"];
        return error.dataset ? datasetErrorFrom(error) : new RpcError(f.code, f.message, error);
      },
      onEnd: () => {
        if (this.peer === rpc) this.peer = null;
      },
    });
    return rpc;
  }

  private armIdle(): void {
    if (this.idle) clearTimeout(this.idle);
    if (!this.peer || this.peer.pendingCount > 0) return;
    this.idle = setTimeout(() => this.close(), this.opts.idleMs ?? 60_000);
    this.idle.unref();
  }

  /** Imports files on disk; `name` is each file's name as uploaded (it tells the format). */
  importFiles(files: { name: string; path: string }[], options: ImportOptions = {}): Promise<ImportResult> {
    if (this.idle) clearTimeout(this.idle);
    this.peer ??= this.spawn();
    const { onProgress, signal: _signal, limits: _limits, ...rest } = options;
    const done = this.peer.request(
      { v: IMPORTER_PROTOCOL_VERSION, type: "import", files, options: rest },
      {
        reply: ImportResultSchema,
        onProgress: (m) => {
          if (m.type === "progress") onProgress?.({ phase: m.phase, done: m.done, total: m.total });
        },
      },
    );
    return done.then(
      (r) => {
        this.armIdle();
        return { dataset: r.dataset as unknown as StoredDatasetMeta, reused: r.reused };
      },
      (e: unknown) => {
        this.armIdle();
        throw e;
      },
    );
  }

  /** Ends the process (imports under way fail with a message saying so). */
  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.peer?.kill();
    this.peer = null;
  }
}
