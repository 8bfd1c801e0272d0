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
import { QuotaError } from "../limits";

export class UploadError extends Error {
  constructor(
    readonly code: "NOT_FOUND" | "PAYLOAD_TOO_LARGE",
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

export interface UploadAreaOptions {
  /** Largest upload, in bytes. */
  maxBytes: number;
  /** Uploads one user may have waiting to be imported and in flight together (default 8). */
  maxPerUser?: number;
  /** Uploads one user may send at once (default 2). */
  maxInFlightPerUser?: number;
  /** Uploads the server receives at once (default 8). */
  maxInFlight?: number;
  /** Bytes the server receives in uploads at once, by their declared lengths (default 2 GiB). */
  maxBytesInFlight?: number;
  /** How long an upload waits to be imported, in ms (default 30 minutes). */
  keepMs?: number;
  /** Throws (a QuotaError) when this user's disk quota or the server's free disk has no room for `bytes` more. */
  checkRoom?: (userId: string, bytes: number) => Promise<void>;
}

export class UploadArea {
  private readonly uploads = new Map<string, Upload>();
  /** Uploads being received: who sends them and how many bytes each declared. */
  private readonly inFlight = new Map<symbol, { userId: string; bytes: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly dir: string,
    private readonly opts: UploadAreaOptions,
  ) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    this.sweeper = setInterval(() => void this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** Bytes of this user's uploads waiting to be imported (they count in the user's disk quota). */
  waitingBytes(userId: string): number {
    let bytes = 0;
    for (const u of this.uploads.values()) if (u.userId === userId) bytes += u.bytes;
    return bytes;
  }

  /**
   * Admits one upload before a byte of it is read, or throws a QuotaError saying what is full: this user's uploads
   * in flight, the server's, the bytes the server is receiving, or this user's uploads waiting and in flight.
   * `declaredBytes` is the request's Content-Length (null: unknown, counted as the largest upload).
   */
  private admit(userId: string, declaredBytes: number | null): symbol {
    const o = this.opts;
    const bytes = declaredBytes ?? o.maxBytes;
    const mine = [...this.inFlight.values()].filter((f) => f.userId === userId).length;
    const waiting = [...this.uploads.values()].filter((u) => u.userId === userId).length;
    const inFlightBytes = [...this.inFlight.values()].reduce((sum, f) => sum + f.bytes, 0);
    const perUser = o.maxInFlightPerUser ?? 2;
    const all = o.maxInFlight ?? 8;
    const maxBytes = o.maxBytesInFlight ?? 2 * 2 ** 30;
    const held = o.maxPerUser ?? 8;
    if (mine >= perUser)
      throw new QuotaError(`you are already sending ${mine} uploads: wait until ${mine === 1 ? "it has" : "they have"} arrived`, {
        name: "uploads",
        limit: perUser,
        used: mine,
        retryAfterSeconds: 5,
      });
    if (waiting + mine >= held) {
      throw new QuotaError(`${waiting + mine} of your uploads are waiting to be imported: import them first (or wait a few minutes)`, {
        name: "uploads",
        limit: held,
        used: waiting + mine,
      });
    }
    if (this.inFlight.size >= all)
      throw new QuotaError(`the server is receiving ${this.inFlight.size} uploads: try again in a minute`, {
        name: "uploads",
        limit: all,
        used: this.inFlight.size,
        retryAfterSeconds: 30,
      });
    if (inFlightBytes + bytes > maxBytes) {
      throw new QuotaError(`the server is receiving ${Math.round(inFlightBytes / 2 ** 20)} MiB of uploads: try again in a minute`, {
        name: "uploadBytes",
        limit: maxBytes,
        used: inFlightBytes,
        retryAfterSeconds: 30,
      });
    }
    const ticket = Symbol(userId);
    this.inFlight.set(ticket, { userId, bytes });
    return ticket;
  }

  /**
   * Streams a request body to disk; refuses bodies over maxBytes, and (before reading any of it) uploads beyond
   * the in-flight and waiting quotas or the disk's room.
   */
  async save(userId: string, body: ReadableStream<Uint8Array>, declaredBytes: number | null = null): Promise<{ uploadId: string; bytes: number }> {
    let ticket: symbol;
    try {
      if (declaredBytes !== null && declaredBytes > this.opts.maxBytes) {
        throw new UploadError("PAYLOAD_TOO_LARGE", `the upload is larger than the ${Math.round(this.opts.maxBytes / 2 ** 20)} MiB allowed`);
      }
      ticket = this.admit(userId, declaredBytes);
    } catch (e) {
      await body.cancel().catch(() => undefined);
      throw e;
    }
    try {
      await this.opts.checkRoom?.(userId, declaredBytes ?? this.opts.maxBytes);
      return await this.receive(userId, body);
    } catch (e) {
      await body.cancel().catch(() => undefined);
      throw e;
    } finally {
      this.inFlight.delete(ticket);
    }
  }

  private async receive(userId: string, body: ReadableStream<Uint8Array>): Promise<{ uploadId: string; bytes: number }> {
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
    if (!u || u.userId !== userId)
      throw new UploadError(
        "NOT_FOUND",
        `no upload ${uploadId} of yours is waiting (uploads are kept ${Math.round((this.opts.keepMs ?? 1_800_000) / 60_000)} minutes)`,
      );
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
