/**
 * The Transport to a child process: `fork` through tsx with Node's IPC channel and `serialization: "advanced"`
 * (structured clone, so PNG bytes travel as Uint8Array). It keeps the tail of the child's stderr for the exit
 * reason, and reports the end only when everything the child sent is in: on `close` (exit, stdio and IPC all
 * ended), or, when this side closed the channel (Node emits no `close` then), once stderr has ended; a grace timer
 * after `exit` covers a pipe that a grandchild holds open. The only file of server/rpc that uses node:child_process.
 */
import { fork, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { getPriority, setPriority } from "node:os";
import { pathToFileURL } from "node:url";
import { lastErrorLine, type PeerSpec, type Transport, type TransportEnd } from "./transport";

/** tsx's loader by absolute URL, so a child's cwd can be the server's, wherever that is. */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** coreutils' nice(1): starts the child at a lower priority (nice execs the command: the pid is the child's). */
const NICE = "/usr/bin/nice";

export interface ChildProcessTransportOptions extends PeerSpec {
  /** Node flags for the child (default: tsx's loader, so the entry can be TypeScript). */
  execArgv?: string[];
  /** How much of stderr is kept for the exit reason (default 4096 characters). */
  stderrTailChars?: number;
  /** How long after `exit` the end is reported if `close` never comes (default 2 s). */
  closeGraceMs?: number;
}

export class ChildProcessTransport implements Transport {
  readonly pid: number;
  private readonly child: ChildProcess;
  private readonly messageListeners = new Set<(message: unknown) => void>();
  private readonly endListeners = new Set<(end: TransportEnd) => void>();
  private endInfo: TransportEnd | null = null;
  private tail = "";
  private killReason: string | undefined;
  private disconnected = false;

  constructor(private readonly opts: ChildProcessTransportOptions) {
    const tailChars = opts.stderrTailChars ?? 4096;
    const execArgv = opts.execArgv ?? ["--import", TSX_LOADER];
    // A lower priority through nice(1), so that every thread of the child (Node's, OpenBLAS's) has it from the start
    // (Linux keeps a nice value per thread: renicing the pid after the fork would miss threads made before it).
    const niceness = Math.max(0, Math.min(19, Math.round(opts.niceness ?? 0)));
    const viaNice = niceness > 0 && existsSync(NICE);
    this.child = fork(opts.entry, opts.args, {
      ...(viaNice ? { execPath: NICE, execArgv: ["-n", String(niceness), process.execPath, ...execArgv] } : { execArgv }),
      serialization: "advanced",
      // stdout is read only when someone listens (an unread pipe would block the child); stderr always (the tail).
      stdio: ["ignore", opts.onOutput ? "pipe" : "ignore", "pipe", "ipc"],
      env: opts.env,
    });
    this.pid = this.child.pid ?? -1;
    if (niceness > 0 && !viaNice && this.pid > 0) {
      try {
        setPriority(this.pid, Math.min(19, getPriority() + niceness));
      } catch {
        // Not allowed here: the same priority, as without it.
      }
    }
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (chunk: string) => {
      this.tail = (this.tail + chunk).slice(-tailChars);
      opts.onOutput?.("stderr", chunk);
    });
    this.child.stdout?.setEncoding("utf8");
    this.child.stdout?.on("data", (chunk: string) => opts.onOutput?.("stdout", chunk));
    this.child.on("message", (raw: unknown) => {
      for (const l of this.messageListeners) {
        try {
          l(raw);
        } catch (e) {
          console.error(`[${opts.label}] message listener failed:`, e);
        }
      }
    });
    this.child.on("error", (e) => {
      // A failed fork has no pid and may never emit "close"; any other error (a failed send) is seen by its sender.
      if (this.pid === -1) this.end({ code: null, signal: null, startError: e.message });
    });
    this.child.on("close", (code, signal) => this.end({ code, signal }));
    this.child.on("exit", (code, signal) => {
      const done = () => this.end({ code, signal });
      setTimeout(done, opts.closeGraceMs ?? 2000).unref();
      if (this.disconnected) {
        const stderr = this.child.stderr;
        if (!stderr || stderr.readableEnded || stderr.destroyed) setImmediate(done);
        else stderr.once("close", () => setImmediate(done));
      }
    });
  }

  get connected(): boolean {
    return this.endInfo === null && this.child.connected;
  }

  get ended(): TransportEnd | null {
    return this.endInfo;
  }

  /** The last characters the child wrote to stderr. */
  get stderrTail(): string {
    return this.tail;
  }

  send(message: unknown): boolean {
    if (!this.connected) return false;
    try {
      this.child.send(message as object, (e) => {
        if (e) console.error(`[${this.opts.label}] send failed: ${e.message}`);
      });
      return true;
    } catch {
      return false;
    }
  }

  onMessage(listener: (message: unknown) => void): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  onEnd(listener: (end: TransportEnd) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  disconnect(): void {
    if (!this.connected) return;
    this.disconnected = true;
    this.child.disconnect();
  }

  kill(signal: NodeJS.Signals = "SIGTERM", reason?: string): void {
    if (this.endInfo) return;
    if (reason) this.killReason ??= reason;
    this.child.kill(signal);
  }

  private end(how: Pick<TransportEnd, "code" | "signal" | "startError">): void {
    if (this.endInfo) return;
    const lastWords = lastErrorLine(this.tail);
    const end: TransportEnd = {
      ...how,
      ...(this.killReason ? { reason: this.killReason } : {}),
      ...(lastWords !== undefined ? { lastWords } : {}),
    };
    this.endInfo = end;
    this.messageListeners.clear();
    for (const l of this.endListeners) {
      try {
        l(end);
      } catch (e) {
        console.error(`[${this.opts.label}] end listener failed:`, e);
      }
    }
    this.endListeners.clear();
  }
}

/** The default TransportFactory: a child process per peer. */
export const childProcessTransport = (spec: PeerSpec): Transport => new ChildProcessTransport(spec);
