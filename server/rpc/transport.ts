/**
 * How the server reaches a peer that speaks one of the versioned protocols of `lib/protocol/` (a trainer, a
 * RuntimeGenerator, the data set importer). The RPC client (`./client`) needs only this: send a message, hear
 * messages, learn that the peer went and why. `ChildProcessTransport` (`./child-process`: fork + IPC) is the one
 * implementation today; a network one (a WebSocket to a worker host, a queue) implements the same interface and is
 * handed to the clients through their `transport` factory option, with no change to them.
 *
 * No Node-only imports here: the interface and the exit reasons are shared by every implementation.
 */

/** How a peer went. Exactly one `end` per transport. */
export interface TransportEnd {
  /** The peer's exit code (0: it ended as it meant to), null when it was killed or never started. */
  code: number | null;
  /** The signal that ended it (a child process), or null. */
  signal: NodeJS.Signals | null;
  /** Why this side ended it, when it killed it with a reason ("… did not start within 60 s"); wins over the rest. */
  reason?: string;
  /** Set when the peer could not be started at all (a failed fork, a refused connection). */
  startError?: string;
  /** The peer's last words: for a child process, the last error line of its stderr. */
  lastWords?: string;
}

/** What a peer is to start: the entry file and its arguments, the environment (a network transport maps these to a worker). */
export interface PeerSpec {
  entry: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** For log lines: "trainer run-1", "generator run-1", "importer". */
  label: string;
  /** What the peer writes to stdout and stderr, as it comes (the stderr tail is kept for the exit reason either way). */
  onOutput?: (stream: "stdout" | "stderr", text: string) => void;
  /** How much lower the peer's CPU priority is than this process's (Unix nice; 0 or absent: the same). A local process's only. */
  niceness?: number;
}

export type TransportFactory = (spec: PeerSpec) => Transport;

export interface Transport {
  /** The peer's process id where there is one (-1 when it never started or is not known). */
  readonly pid: number;
  /** Whether messages can be sent now. */
  readonly connected: boolean;
  /** How the peer went; null while it is there. */
  readonly ended: TransportEnd | null;
  /** Sends one message (structured-clone values: Uint8Array travels as is). False when the peer is gone. */
  send(message: unknown): boolean;
  /** Every message the peer sends, unchecked (the client parses them). Returns the unsubscribe function. */
  onMessage(listener: (message: unknown) => void): () => void;
  /** Called once, when the peer has gone (after its last message and the end of its output). */
  onEnd(listener: (end: TransportEnd) => void): () => void;
  /** Closes the channel; the peer is expected to end on its own (a child exits when its IPC channel closes). */
  disconnect(): void;
  /** Ends the peer now (default SIGTERM); `reason`, when given, is the end's reason. */
  kill(signal?: NodeJS.Signals, reason?: string): void;
}

/** The line of a stderr tail that says what went wrong: the last error line, else the last meaningful one. */
export function lastErrorLine(text: string): string | undefined {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "" && !/^\s+at\s/.test(l) && !/^Node\.js v\d/.test(l) && !/^\s*\^+\s*$/.test(l));
  for (let i = lines.length - 1; i >= 0; i--) if (/\b\w*(Error|Exception)\b:/.test(lines[i]!)) return lines[i]!.trim();
  return lines.at(-1)?.trim();
}

/**
 * The one place exit reasons are worded, for people: "the trainer process was killed by SIGKILL", "the import
 * process exited with code 1: Error: out of memory". `name` is the peer ("the trainer process"); `message` is what
 * the peer said before it went (a `fatal` message), preferred over its stderr for a non-zero exit.
 */
export function describeEnd(name: string, end: TransportEnd, message?: string): string {
  if (end.reason) return end.reason;
  if (end.startError !== undefined) return `${name} could not start: ${end.startError}`;
  if (end.signal) return `${name} was killed by ${end.signal}`;
  if (end.code !== 0) return `${name} exited with code ${end.code}: ${message ?? end.lastWords ?? "no message"}`;
  return `${name} exited`;
}
