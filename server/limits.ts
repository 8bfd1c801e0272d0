/**
 * Every limit and quota of the service, in one table: its environment variable, its default and what it bounds.
 * `loadLimits()` validates them once at start (a bad value stops the process naming the variable), so a limit is
 * never read ad hoc from `process.env` elsewhere. docs/security.md lists the same table (a test compares them).
 *
 * Quotas are counted per user and over the whole server; a quota that is hit is a {@link QuotaError}: a typed
 * error (tRPC TOO_MANY_REQUESTS, HTTP 429) whose message says in words what is full and what to do.
 */
import os from "node:os";
import { z } from "zod";

const int = (min: number, max: number, dflt: number) => z.coerce.number().int().min(min).max(max).default(dflt);

/**
 * How many trainer processes this machine can run at once: one per core, and no more than its memory holds at
 * about 1.5 GiB each (a wasm trainer of NNC's network at batch 64 peaks near 1 GiB), at least one.
 */
export function machineTrainerSlots(cores = os.availableParallelism?.() ?? os.cpus().length, memoryBytes = os.totalmem()): number {
  return Math.max(1, Math.min(cores, Math.floor(memoryBytes / (1.5 * 2 ** 30))));
}

/** One row per limit: [env name, schema]. The doc comment is what docs/security.md says of it. */
export const LimitsSchema = z.object({
  // ---- request bodies ----
  /** Largest JSON body of a tRPC call or any other JSON route, in KiB (counted as it streams; 413 past it). */
  GAN_MAX_JSON_BODY_KB: int(1, 16_384, 256),
  /** Most calls in one tRPC batch request. */
  GAN_MAX_TRPC_BATCH: int(1, 100, 10),
  /** Largest data set upload (application/octet-stream only), in MiB. */
  DATASET_MAX_UPLOAD_MB: int(1, 4096, 512),
  // ---- uploads ----
  /** Uploads one user may send at the same time. */
  GAN_MAX_UPLOADS_IN_FLIGHT_PER_USER: int(1, 100, 2),
  /** Uploads the whole server receives at the same time. */
  GAN_MAX_UPLOADS_IN_FLIGHT: int(1, 1000, 8),
  /** Bytes the whole server accepts in uploads at the same time (declared by Content-Length), in MiB. */
  GAN_MAX_UPLOAD_BYTES_IN_FLIGHT_MB: int(1, 65_536, 2048),
  /** Uploaded files one user may leave waiting to be imported. */
  GAN_MAX_WAITING_UPLOADS_PER_USER: int(1, 100, 8),
  // ---- sessions and runs ----
  /** Sessions one user may own. */
  GAN_MAX_SESSIONS_PER_USER: int(1, 10_000, 20),
  /** Runs one session may hold (any status). */
  GAN_MAX_RUNS_PER_SESSION: int(1, 100_000, 200),
  /** Runs one user may create in all sessions together. */
  GAN_MAX_RUNS_PER_USER: int(1, 100_000, 500),
  // ---- processes ----
  /** Trainer processes alive at once on this server; runs beyond it wait in a visible queue. 0: from the machine's cores and memory. */
  GAN_MAX_LIVE_TRAINERS: int(0, 1024, 0),
  /** Runs one session may train at once (queued runs count). */
  GAN_MAX_LIVE_TRAINERS_PER_SESSION: int(1, 1024, 2),
  /** Runs one user may have training or queued at once (as the one who started them). */
  GAN_MAX_LIVE_TRAINERS_PER_USER: int(1, 1024, 4),
  /** Runs waiting in the trainer queue, server-wide. */
  GAN_MAX_QUEUED_RUNS: int(0, 10_000, 50),
  /**
   * How much lower a trainer process's CPU priority is than the web process's (Unix nice, 0–19). Training is the
   * heavy, patient work; the web process's event loop serves every page's pushes and clicks, so when they compete for
   * a core the web process wins and training slows a little. 0: the same priority.
   */
  GAN_TRAINER_NICENESS: int(0, 19, 10),
  /** RuntimeGenerator processes alive at once (least recently used ones are let go first). */
  GAN_MAX_GENERATORS: int(1, 256, 4),
  /** RuntimeGenerator requests waiting per run; more are refused until the ones in flight are answered. */
  GAN_MAX_GENERATOR_QUEUE: int(1, 10_000, 16),
  // ---- disk ----
  /** Disk one user's things may take (data sets they imported, checkpoints and grids of runs they created), in MiB. */
  GAN_DISK_QUOTA_PER_USER_MB: int(1, 10_000_000, 10_240),
  /** Free disk below which runs pause and uploads are refused, in MiB. */
  GAN_MIN_FREE_DISK_MB: int(0, 10_000_000, 512),
  // ---- reads ----
  /** Loss points in one page of run history (a full-resolution range). */
  GAN_HISTORY_PAGE_POINTS: int(100, 1_000_000, 5_000),
  /** Points in a run's downsampled overview (the chart's whole shape). */
  GAN_HISTORY_OVERVIEW_POINTS: int(100, 100_000, 2_000),
  // ---- Config and network limits (checked before anything allocates) ----
  /** Largest BatchSize a Config may ask for. */
  GAN_MAX_BATCH_SIZE: int(1, 65_536, 1024),
  /** Most layers in a network spec (generator and discriminator together). */
  GAN_MAX_LAYERS: int(1, 10_000, 200),
  /** Most parameters (W, b, beta, gamma, running statistics) in a network spec, in millions. */
  GAN_MAX_PARAMETERS_M: int(1, 10_000, 50),
  /** Largest estimated activation memory of one training iteration at the Config's batch size, in MiB. */
  GAN_MAX_ACTIVATION_MB: int(16, 1_000_000, 4096),
  /** Most images in one sample grid (labels × sampleColumns). */
  GAN_MAX_GRID_IMAGES: int(1, 100_000, 1024),
  // ---- accounts ----
  /** Sign-in attempts per IP address per 15 minutes. */
  GAN_SIGNIN_PER_IP: int(1, 100_000, 50),
  /** Failed sign-ins per account and address per 15 minutes (ten times as many from all addresses) before sign-in is refused for the rest of the window. */
  GAN_SIGNIN_FAILURES_PER_ACCOUNT: int(1, 10_000, 10),
  /** Sign-ups per IP address per hour. */
  GAN_SIGNUP_PER_IP: int(1, 100_000, 10),
  /** Invite acceptances per IP address per 15 minutes (and per account). */
  GAN_INVITE_ACCEPT_PER_IP: int(1, 100_000, 30),
  /** Days an invite link stays valid unless its owner chose otherwise. */
  GAN_INVITE_DEFAULT_DAYS: int(1, 365, 7),
  /** Origins allowed to open a socket.io connection, comma-separated; empty: the server's own origin only. */
  GAN_ALLOWED_ORIGINS: z.string().default(""),
});

export type Limits = Omit<z.infer<typeof LimitsSchema>, "GAN_MAX_LIVE_TRAINERS"> & {
  /** Resolved: never 0 (0 in the environment means "from the machine"). */
  GAN_MAX_LIVE_TRAINERS: number;
};

export class LimitsError extends Error {}

/** The limits from the environment, with defaults; throws {@link LimitsError} naming each bad variable. */
export function loadLimits(source: NodeJS.ProcessEnv = process.env): Limits {
  const parsed = LimitsSchema.safeParse(source);
  if (!parsed.success) {
    throw new LimitsError(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const l = parsed.data;
  return { ...l, GAN_MAX_LIVE_TRAINERS: l.GAN_MAX_LIVE_TRAINERS || machineTrainerSlots() };
}

/** The defaults alone (tests, and the doc table's check). */
export const DEFAULT_LIMITS: Limits = loadLimits({} as NodeJS.ProcessEnv);

/** Names of the quotas a {@link QuotaError} can report. */
export type QuotaName = "sessions" | "runs" | "liveTrainers" | "queue" | "generators" | "uploads" | "uploadBytes" | "disk" | "rateLimit";

/**
 * A quota or rate limit was hit. `message` is for people ("this session already trains 2 runs: pause one or
 * wait"); `quota` names what was full with its limit and use, for the UI and tests; `retryAfterSeconds` when
 * waiting helps.
 */
export class QuotaError extends Error {
  readonly code = "TOO_MANY_REQUESTS" as const;
  constructor(
    message: string,
    readonly quota: { name: QuotaName; limit: number; used: number; retryAfterSeconds?: number },
  ) {
    super(message);
    this.name = "QuotaError";
  }
}

const serialised = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` once every earlier call with the same `key` has settled, so a quota's count and the write it allows
 * happen together: two calls at once cannot both pass a check that only one of them should (one server process).
 */
export function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = serialised.get(key) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  serialised.set(key, settled);
  void settled.then(() => {
    if (serialised.get(key) === settled) serialised.delete(key);
  });
  return run;
}
