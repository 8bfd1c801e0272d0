/**
 * Uploaded files waiting to be imported: each arrives as its own request body (tRPC octet input), streamed to
 * disk as it comes in (no buffering, no multipart parsing on the event loop), and is named by a random id that
 * only its uploader can use. Imports take them (and delete them after); what nobody takes is removed after a
 * while. The folder is emptied when the server starts.
 */
import { randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

export class UploadError extends Error {
  constructor(
    readonly code: "NOT_FOUND" | "PAYLOAD_TOO_LARGE" | "TOO_MANY_REQUESTS",
    message: string,
  ) {
    super(message);
    this.name = "UploadError";
  }
}

interface Upload {
  userId: string;
  file: string;
  bytes: number;
  at: number;
}

export class UploadArea {
  private readonly uploads = new Map<string, Upload>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly dir: string,
    private readonly opts: { maxBytes: number; maxPerUser?: number; keepMs?: number },
  ) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    this.sweeper = setInterval(() => void this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** Streams a request body to disk; refuses bodies over maxBytes and users holding too many untaken uploads. */
  async save(userId: string, body: ReadableStream<Uint8Array>): Promise<{ uploadId: string; bytes: number }> {
    const held = [...this.uploads.values()].filter((u) => u.userId === userId).length;
    if (held >= (this.opts.maxPerUser ?? 8)) {
      await body.cancel().catch(() => undefined);
      throw new UploadError("TOO_MANY_REQUESTS", `${held} uploads are waiting to be imported: import them first (or wait a few minutes)`);
    }
    const uploadId = randomUUID();
    const file = path.join(this.dir, uploadId);
    const part = `${file}.part`;
    let bytes = 0;
    const max = this.opts.maxBytes;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > max) done(new UploadError("PAYLOAD_TOO_LARGE", `the upload is larger than the ${Math.round(max / 2 ** 20)} MiB allowed`));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>), count, createWriteStream(part));
      await rename(part, file);
    } catch (e) {
      await rm(part, { force: true });
      if (e instanceof UploadError) throw e;
      // tRPC ends the stream with an error past its own body limit: the same limit, in the same words.
      if (/too large|maxBodySize|PAYLOAD_TOO_LARGE/i.test(String((e as Error).message))) {
        throw new UploadError("PAYLOAD_TOO_LARGE", `the upload is larger than the ${Math.round(max / 2 ** 20)} MiB allowed`);
      }
      throw e;
    }
    this.uploads.set(uploadId, { userId, file, bytes, at: Date.now() });
    return { uploadId, bytes };
  }

  /** The file of an upload this user made; NOT_FOUND for anyone else's, a spent or an expired one. */
  take(userId: string, uploadId: string): { file: string; bytes: number } {
    const u = this.uploads.get(uploadId);
    if (!u || u.userId !== userId) throw new UploadError("NOT_FOUND", `no upload ${uploadId} of yours is waiting (uploads are kept ${Math.round((this.opts.keepMs ?? 1_800_000) / 60_000)} minutes)`);
    return { file: u.file, bytes: u.bytes };
  }

  /** Deletes this user's uploads once imported (or refused); others' are left alone. */
  async release(userId: string, uploadIds: string[]): Promise<void> {
    for (const id of uploadIds) {
      const u = this.uploads.get(id);
      if (!u || u.userId !== userId) continue;
      this.uploads.delete(id);
      await rm(u.file, { force: true });
    }
  }

  private async sweep(): Promise<void> {
    const old = Date.now() - (this.opts.keepMs ?? 1_800_000);
    for (const [id, u] of [...this.uploads.entries()]) {
      if (u.at < old) await this.release(u.userId, [id]);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
