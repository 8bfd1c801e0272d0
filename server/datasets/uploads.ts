/**
 * Uploaded files waiting to be imported: each arrives as its own request body (tRPC octet input), streamed to
 * disk as it comes in (no buffering, no multipart parsing on the event loop), and is named by a random id that
 * only its uploader can use. Imports take them (and delete them after); what nobody takes is removed after a
 * while.
 *
 * The folder is the whole state: each upload is its file `<id>` and a small record `<id>.json` (who, how many
 * bytes, when, which process received it). So in a cluster, whose processes share DATA_DIR, a file sent to one
 * process is imported through any other, and a user's waiting uploads count once whichever process received
 * them. Alone, a process empties the folder when it starts; in a cluster it removes only what it received itself
 * under its id before, and every process sweeps what waited too long (also what a process that is gone left).
 * What is in flight (being received) is each process's own: its sockets, its disk bandwidth.
 */
import { randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
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

/** The record beside each waiting upload. */
interface UploadRecord {
  userId: string;
  bytes: number;
  /** When it arrived (ms since the epoch). */
  at: number;
  /** The process that received it. */
  node: string;
}

const RECORD = ".json";
const PART = ".part";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseRecord(text: string): UploadRecord | null {
  try {
    const r = JSON.parse(text) as Partial<UploadRecord>;
    if (typeof r.userId !== "string" || typeof r.bytes !== "number" || typeof r.at !== "number" || typeof r.node !== "string") return null;
    return r as UploadRecord;
  } catch {
    return null;
  }
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
  /**
   * In a cluster: this process's id, and the folder is shared with the others (only this process's own leftovers
   * are removed at start). Unset: the folder is this process's alone and is emptied at start.
   */
  clusterNode?: string;
}

export class UploadArea {
  /** Uploads being received by this process: who sends them and how many bytes each declared. */
  private readonly inFlight = new Map<symbol, { userId: string; bytes: number }>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly node: string;

  constructor(
    readonly dir: string,
    private readonly opts: UploadAreaOptions,
  ) {
    this.node = opts.clusterNode ?? "local";
    if (opts.clusterNode === undefined) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    } else {
      mkdirSync(dir, { recursive: true });
      this.forgetOwn();
    }
    this.sweeper = setInterval(() => void this.sweep().catch((e: unknown) => console.error("sweeping uploads failed:", e)), 60_000);
    this.sweeper.unref();
  }

  private get keepMs(): number {
    return this.opts.keepMs ?? 1_800_000;
  }

  /** At start in a cluster: what this process id received before (its files, records and half-received parts). */
  private forgetOwn(): void {
    for (const name of readdirSync(this.dir)) {
      if (name.endsWith(`.${this.node}${PART}`)) rmSync(path.join(this.dir, name), { force: true });
      if (!name.endsWith(RECORD)) continue;
      const record = parseRecord(readFileSync(path.join(this.dir, name), "utf8"));
      if (record?.node === this.node) this.removeSync(name.slice(0, -RECORD.length));
    }
  }

  private removeSync(id: string): void {
    rmSync(path.join(this.dir, id + RECORD), { force: true });
    rmSync(path.join(this.dir, id), { force: true });
  }

  /** Every waiting upload in the folder (any process's), by id; records that cannot be read are skipped. */
  private async waiting(): Promise<Map<string, UploadRecord>> {
    const out = new Map<string, UploadRecord>();
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith(RECORD)) continue;
      const text = await readFile(path.join(this.dir, name), "utf8").catch(() => null);
      const record = text === null ? null : parseRecord(text);
      if (record) out.set(name.slice(0, -RECORD.length), record);
    }
    return out;
  }

  /** Bytes of this user's uploads waiting to be imported, through any process (they count in the user's disk quota). */
  async waitingBytes(userId: string): Promise<number> {
    let bytes = 0;
    for (const u of (await this.waiting()).values()) if (u.userId === userId) bytes += u.bytes;
    return bytes;
  }

  /**
   * Admits one upload before a byte of it is read, or throws a QuotaError saying what is full: this user's uploads
   * in flight, this process's, the bytes this process is receiving, or this user's uploads waiting and in flight.
   * `declaredBytes` is the request's Content-Length (null: unknown, counted as the largest upload).
   */
  private async admit(userId: string, declaredBytes: number | null): Promise<symbol> {
    const o = this.opts;
    let waiting = 0;
    for (const u of (await this.waiting()).values()) if (u.userId === userId) waiting++;
    // From here on synchronous: two uploads admitted at once both see each other's ticket.
    const bytes = declaredBytes ?? o.maxBytes;
    const mine = [...this.inFlight.values()].filter((f) => f.userId === userId).length;
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
      ticket = await this.admit(userId, declaredBytes);
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
    const part = `${file}.${this.node}${PART}`;
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
    // The record last (written whole, then renamed): a record always names a complete file.
    const record: UploadRecord = { userId, bytes, at: Date.now(), node: this.node };
    const tmp = `${file}${RECORD}.${this.node}${PART}`;
    try {
      await writeFile(tmp, JSON.stringify(record));
      await rename(tmp, file + RECORD);
    } catch (e) {
      await rm(tmp, { force: true });
      await rm(file, { force: true });
      throw e;
    }
    return { uploadId, bytes };
  }

  /** The file of an upload this user made, through any process; NOT_FOUND for anyone else's, a spent or an expired one. */
  async take(userId: string, uploadId: string): Promise<{ file: string; bytes: number }> {
    const missing = () =>
      new UploadError("NOT_FOUND", `no upload ${uploadId} of yours is waiting (uploads are kept ${Math.round(this.keepMs / 60_000)} minutes)`);
    if (!UUID.test(uploadId)) throw missing();
    const file = path.join(this.dir, uploadId);
    const text = await readFile(file + RECORD, "utf8").catch(() => null);
    const record = text === null ? null : parseRecord(text);
    if (!record || record.userId !== userId || record.at < Date.now() - this.keepMs) throw missing();
    const there = await stat(file).catch(() => null);
    if (!there) throw missing();
    return { file, bytes: record.bytes };
  }

  /** Deletes this user's uploads once imported (or refused), through any process; others' are left alone. */
  async release(userId: string, uploadIds: string[]): Promise<void> {
    for (const id of uploadIds) {
      if (!UUID.test(id)) continue;
      const text = await readFile(path.join(this.dir, id + RECORD), "utf8").catch(() => null);
      const record = text === null ? null : parseRecord(text);
      if (!record || record.userId !== userId) continue;
      await this.remove(id);
    }
  }

  private async remove(id: string): Promise<void> {
    await rm(path.join(this.dir, id + RECORD), { force: true });
    await rm(path.join(this.dir, id), { force: true });
  }

  /** Removes what waited longer than keepMs (whichever process received it), and parts and files left without a record. */
  async sweep(now = Date.now()): Promise<number> {
    const old = now - this.keepMs;
    let removed = 0;
    const records = await this.waiting();
    for (const [id, u] of records) {
      if (u.at < old) {
        await this.remove(id);
        removed++;
      }
    }
    for (const name of await readdir(this.dir)) {
      if (name.endsWith(RECORD) || records.has(name)) continue;
      const s = await stat(path.join(this.dir, name)).catch(() => null);
      if (s && s.mtimeMs < old) {
        await rm(path.join(this.dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
